// A modal built on <dialog>: focus is trapped and Escape closes it, for free.
import { useEffect, useRef, type ReactNode } from 'react';

export function Dialog(props: { title: string; onClose: () => void; children: ReactNode; footer?: ReactNode; narrow?: boolean; labelId?: string }) {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current!;
    if (!d.open) d.showModal();
    // showModal focuses the first control (the close button); a safer default can ask for focus.
    d.querySelector<HTMLElement>('[data-autofocus]')?.focus();
    return () => d.close();
  }, []);
  const labelId = props.labelId ?? `dlg-${props.title.replace(/\W+/g, '-').toLowerCase()}`;
  return (
    <dialog
      ref={ref}
      className={props.narrow ? 'narrow' : undefined}
      aria-labelledby={labelId}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
    >
      <div className="dialog-head">
        <h2 id={labelId} style={{ margin: 0 }}>
          {props.title}
        </h2>
        <button className="ghost" onClick={props.onClose} aria-label="Close">
          ✕
        </button>
      </div>
      <div className="dialog-body">{props.children}</div>
      {props.footer && <div className="dialog-foot">{props.footer}</div>}
    </dialog>
  );
}
