// A form's refusals from the API: each field's messages beside its input (and focus on the first one), and
// whatever names no field of the form (or any other failure) as one notice above it.

import { useCallback, useEffect, useRef, useState } from "react";

import { ApiError, errorMessage } from "../api/client";

export type FieldErrors<Name extends string> = Partial<Record<Name, string[]>>;

/** Split an API refusal's messages into those of the form's fields and the rest. */
export function placeFieldErrors<Name extends string>(
  fields: readonly Name[],
  messages: Iterable<[string, string[]]>,
): { placed: FieldErrors<Name>; unplaced: string[] } {
  const placed: FieldErrors<Name> = {};
  const unplaced: string[] = [];
  for (const [key, texts] of messages) {
    if ((fields as readonly string[]).includes(key)) placed[key as Name] = texts;
    else unplaced.push(...texts);
  }
  return { placed, unplaced };
}

export function useFormErrors<Name extends string>(fields: readonly Name[]) {
  const [errors, setErrors] = useState<FieldErrors<Name>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const form = useRef<HTMLFormElement>(null);
  useEffect(() => {
    form.current?.querySelector<HTMLElement>("[aria-invalid=true]")?.focus();
  }, [errors]);

  const clear = useCallback(() => {
    setErrors({});
    setFormError(null);
  }, []);

  const show = useCallback(
    (error: unknown) => {
      if (!(error instanceof ApiError)) {
        setFormError(errorMessage(error));
        return;
      }
      const { placed, unplaced } = placeFieldErrors(fields, error.fieldErrors());
      setErrors(placed);
      if (Object.keys(placed).length === 0 || unplaced.length) setFormError(unplaced.join(" ") || error.message);
    },
    [fields],
  );

  return { errors, formError, form, clear, show };
}
