import { useId, type ReactElement, cloneElement } from 'react';

/** A labelled control with its hint and, when present, its error right below it. */
export function Field(props: { label: string; error?: string; hint?: string; className?: string; children: ReactElement<Record<string, unknown>> }) {
  const id = useId();
  const errorId = `${id}-error`;
  const control = cloneElement(props.children, {
    id,
    'aria-invalid': props.error ? true : undefined,
    'aria-describedby': props.error ? errorId : undefined,
  });
  return (
    <div className={`field ${props.className ?? ''}`}>
      <label htmlFor={id}>{props.label}</label>
      {control}
      {props.error ? (
        <div className="field-error" id={errorId} role="alert">
          {props.error}
        </div>
      ) : (
        props.hint && <div className="hint">{props.hint}</div>
      )}
    </div>
  );
}
