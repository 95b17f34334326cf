// A few helpers to build the DOM by hand. Text always goes in as text nodes, never as HTML, so names, tags and
// error messages from the API cannot inject markup.

export type Child = Node | string | number | null | undefined | false | Child[];

type Handler = (event: Event) => void;
export type Props = Record<string, string | number | boolean | null | undefined | Handler>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (typeof value === "function") {
      element.addEventListener(key.replace(/^on/, "").toLowerCase(), value);
    } else if (value === true) {
      element.setAttribute(key, "");
    } else if (value !== false && value !== null && value !== undefined) {
      element.setAttribute(key, String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function replace(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

let counter = 0;

/** A unique element id, for label `for` and `aria-describedby`. */
export function uid(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}`;
}

export interface Field {
  element: HTMLElement;
  setErrors(messages: string[]): void;
}

/**
 * A labelled form control with a hint and a slot for the API's errors about it, tied together with
 * `aria-describedby` so screen readers announce both.
 */
export function field(label: string, control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, hint?: string): Field {
  const id = control.id || uid("field");
  control.id = id;
  const hintElement = hint ? h("p", { class: "hint", id: `${id}-hint` }, hint) : null;
  const errorElement = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  const describe = (withError: boolean) => {
    const ids = [hintElement?.id, withError ? errorElement.id : null].filter(Boolean).join(" ");
    if (ids) control.setAttribute("aria-describedby", ids);
    else control.removeAttribute("aria-describedby");
  };
  describe(false);
  return {
    element: h("div", { class: "field" }, h("label", { for: id }, label), control, hintElement, errorElement),
    setErrors(messages: string[]) {
      const invalid = messages.length > 0;
      errorElement.textContent = messages.join(" ");
      errorElement.hidden = !invalid;
      if (invalid) control.setAttribute("aria-invalid", "true");
      else control.removeAttribute("aria-invalid");
      describe(invalid);
    },
  };
}

/** A message box: `role="alert"` for errors (announced at once), `role="status"` for the rest. */
export function notice(kind: "error" | "success" | "info", message: Child): HTMLElement {
  return h("div", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : "status" }, message);
}

export function showNotice(slot: Element, kind: "error" | "success" | "info", message: string | null): void {
  if (message) replace(slot, notice(kind, message));
  else slot.replaceChildren();
}
