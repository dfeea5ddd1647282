import type { ReactNode } from 'react';

export function ComingSoon(props: { title: string; lead: string; children: ReactNode }) {
  return (
    <div className="page">
      <div className="page-head">
        <div>
          <h1>{props.title}</h1>
          <p>{props.lead}</p>
        </div>
      </div>
      <div className="card card-body coming">
        <h2>Coming next</h2>
        <p>This part of Offhost is not built yet. It will let you:</p>
        <ul>{props.children}</ul>
      </div>
    </div>
  );
}
