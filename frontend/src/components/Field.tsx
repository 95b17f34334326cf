import { type ReactNode, useId } from "react";

export interface ControlProps {
  id: string;
  "aria-describedby"?: string;
  "aria-invalid"?: true;
}

/**
 * A labelled form control with a hint and a slot for the API's errors about it, tied together with
 * `aria-describedby` so screen readers announce both. The control is a render prop: `{(props) => <input {...props} />}`.
 */
export function Field({
  label,
  hint,
  errors = [],
  className,
  children,
}: {
  label: string;
  hint?: ReactNode;
  errors?: string[];
  className?: string;
  children: (props: ControlProps) => ReactNode;
}) {
  const id = useId();
  const invalid = errors.length > 0;
  const describedBy = [hint ? `${id}-hint` : null, invalid ? `${id}-error` : null].filter(Boolean).join(" ");
  return (
    <div className={`field ${className ?? ""}`.trim()}>
      <label htmlFor={id}>{label}</label>
      {children({ id, "aria-describedby": describedBy || undefined, "aria-invalid": invalid ? true : undefined })}
      {hint ? (
        <p className="hint" id={`${id}-hint`}>
          {hint}
        </p>
      ) : null}
      {invalid ? (
        <p className="field-error" id={`${id}-error`}>
          {errors.join(" ")}
        </p>
      ) : null}
    </div>
  );
}
