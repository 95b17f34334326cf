import { ApiError, api, type Model, type Team, type User } from "./api";
import { type Field, field, h, replace, showNotice } from "./dom";
import { dateCell } from "./format";
import { navigate } from "./router";

const CAN_WRITE = new Set(["deployer", "admin"]);
let lastSearch = "";

/** The models list: a search box, a table, and the form that creates a model. */
export function modelsPage(user: User): HTMLElement {
  const search = h("input", {
    type: "search",
    name: "search",
    placeholder: "Name, description or tag",
    value: lastSearch,
    autocomplete: "off",
  });
  const tableSlot = h("div", { class: "table-slot", "aria-live": "polite", "aria-busy": "true" });
  const count = h("span", { class: "count" });
  const formSlot = h("div");
  const newButton = h("button", { type: "button", class: "button button-primary", "aria-expanded": "false" }, "New model");

  let sequence = 0;
  const load = async () => {
    const mine = ++sequence;
    tableSlot.setAttribute("aria-busy", "true");
    try {
      const page = await api.models(search.value.trim());
      if (mine !== sequence) return; // a newer search already answered
      count.textContent = `${page.count} ${page.count === 1 ? "model" : "models"}`;
      replace(tableSlot, modelsTable(page.results, search.value.trim()));
    } catch (error) {
      if (mine === sequence) showNotice(tableSlot, "error", error instanceof ApiError ? error.message : String(error));
    } finally {
      if (mine === sequence) tableSlot.setAttribute("aria-busy", "false");
    }
  };

  let timer: number | undefined;
  search.addEventListener("input", () => {
    lastSearch = search.value;
    window.clearTimeout(timer);
    timer = window.setTimeout(load, 200);
  });
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      window.clearTimeout(timer);
      void load();
    }
  });

  const closeForm = () => {
    formSlot.replaceChildren();
    newButton.setAttribute("aria-expanded", "false");
    newButton.hidden = false;
    newButton.focus();
  };
  newButton.addEventListener("click", () => {
    newButton.setAttribute("aria-expanded", "true");
    newButton.hidden = true;
    replace(formSlot, newModelForm(user, closeForm));
    formSlot.querySelector("input")?.focus();
  });

  void load();
  const writable = user.is_superuser || user.teams.some((m) => CAN_WRITE.has(m.role));
  const searchField = field("Search models", search);
  searchField.element.classList.add("field-inline");

  return h(
    "div",
    { class: "page" },
    h("div", { class: "page-header" }, h("div", {}, h("h1", {}, "Models"), count), writable ? newButton : null),
    formSlot,
    h("div", { class: "toolbar" }, searchField.element),
    tableSlot,
  );
}

function modelsTable(models: Model[], search: string): HTMLElement {
  if (models.length === 0) {
    return h(
      "div",
      { class: "empty" },
      search ? `No model matches “${search}”.` : "No models yet. Create one with New model, then upload a file.",
    );
  }
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "table" },
      h("caption", { class: "visually-hidden" }, "Models"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Name", "Team", "Tags", "Latest version", "Updated"].map((title) => h("th", { scope: "col" }, title)),
        ),
      ),
      h(
        "tbody",
        {},
        models.map((model) =>
          h(
            "tr",
            {},
            h(
              "td",
              {},
              h("a", { href: `#/models/${encodeURIComponent(model.name)}`, class: "strong" }, model.name),
              model.description ? h("div", { class: "muted small clamp" }, model.description) : null,
            ),
            h("td", {}, h("span", { class: "team" }, model.team)),
            h("td", {}, tagList(model.tags, model.name)),
            h(
              "td",
              { class: "num" },
              model.latest_version === null
                ? h("span", { class: "muted" }, "none")
                : h("span", { title: `${model.version_count} versions` }, `v${model.latest_version}`),
            ),
            h("td", {}, dateCell(model.updated_at)),
          ),
        ),
      ),
    ),
  );
}

export function tagList(tags: string[], model: string): HTMLElement {
  if (tags.length === 0) return h("span", { class: "muted" }, "—");
  const label = `Tags of ${model}`;
  return h("ul", { class: "tags", "aria-label": label }, tags.map((tag) => h("li", { class: "tag" }, tag)));
}

function newModelForm(user: User, close: () => void): HTMLElement {
  const name = h("input", { name: "name", autocomplete: "off", spellcheck: "false", maxlength: 63, required: true });
  const team = h("select", { name: "team", required: true }, h("option", { value: "" }, "Loading teams…"));
  const description = h("textarea", { name: "description", rows: 2 });
  const tags = h("input", { name: "tags", autocomplete: "off", placeholder: "tabular, iris" });
  const fields: Record<string, Field> = {
    name: field("Name", name, "Lowercase letters, digits and hyphens. It becomes the model's inference route."),
    team: field("Team", team),
    description: field("Description", description),
    tags: field("Tags", tags, "Separate tags with commas."),
  };
  const alertSlot = h("div", { class: "notice-slot" });
  const submit = h("button", { type: "submit", class: "button button-primary" }, "Create model");
  const cancel = h("button", { type: "button", class: "button", onclick: close }, "Cancel");

  void api.teams().then(
    (page) => {
      const writable = page.results.filter((t: Team) => user.is_superuser || CAN_WRITE.has(t.my_role ?? ""));
      replace(
        team,
        writable.length === 1 ? null : h("option", { value: "" }, "Choose a team"),
        writable.map((t) => h("option", { value: t.slug }, t.name === t.slug ? t.slug : `${t.name} (${t.slug})`)),
      );
    },
    (error: unknown) => showNotice(alertSlot, "error", error instanceof ApiError ? error.message : String(error)),
  );

  const form = h(
    "form",
    { class: "card form-card", novalidate: true, "aria-labelledby": "new-model-title" },
    h("h2", { id: "new-model-title" }, "New model"),
    alertSlot,
    h("div", { class: "grid-2" }, fields.name.element, fields.team.element),
    fields.description.element,
    fields.tags.element,
    h("div", { class: "actions" }, submit, cancel),
  );
  form.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const f of Object.values(fields)) f.setErrors([]);
    showNotice(alertSlot, "error", null);
    submit.disabled = true;
    submit.textContent = "Creating…";
    try {
      const model = await api.createModel({
        name: name.value.trim(),
        team: team.value,
        description: description.value.trim(),
        tags: tags.value
          .split(",")
          .map((tag) => tag.trim())
          .filter(Boolean),
      });
      navigate(`#/models/${encodeURIComponent(model.name)}`, `Created model ${model.name}. Upload its first version.`);
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const unplaced: string[] = [];
      for (const [key, messages] of error.fieldErrors()) {
        if (key in fields) fields[key].setErrors(messages);
        else unplaced.push(...messages);
      }
      const placed = [...error.fieldErrors().keys()].some((key) => key in fields);
      if (!placed || unplaced.length) showNotice(alertSlot, "error", unplaced.join(" ") || error.message);
      form.querySelector<HTMLElement>("[aria-invalid=true]")?.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = "Create model";
    }
  });
  return form;
}
