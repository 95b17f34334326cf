// The audit log's filters and page live in the page's URL (shareable, kept by back and forward); this turns them
// into the API's query (AuditEntryFilterSet plus search and paging).

import type { AuditAction } from "../../api/types";

/** The filters of AuditEntryFilterSet the page offers, plus the API's search (object name or actor). */
export const FILTER_NAMES = ["actor", "action", "target_type", "team", "search", "since", "until"] as const;
export type FilterName = (typeof FILTER_NAMES)[number];
export type Filters = Record<FilterName, string>;

export const PAGE_SIZE = 50;

/** The names of controlplane/accounts/choices.py's AuditAction, for the action filter and the rows. */
export const ACTION_LABELS: Record<AuditAction, string> = {
  create: "Create",
  update: "Update",
  delete: "Delete",
  upload: "Upload",
  trust: "Mark trusted",
  untrust: "Unmark trusted",
  login: "Log in",
  login_failed: "Failed log in",
  logout: "Log out",
  token_create: "Create API token",
  token_revoke: "Revoke API token",
};

export function filtersFrom(params: URLSearchParams): Filters {
  const filters = {} as Filters;
  for (const name of FILTER_NAMES) filters[name] = params.get(name)?.trim() ?? "";
  return filters;
}

/** The page number in the URL: 1 unless a whole number above 1 is there. */
export function pageFrom(params: URLSearchParams): number {
  const page = Number(params.get("page"));
  return Number.isInteger(page) && page > 1 ? page : 1;
}

/** The URL's query for these filters, from page 1 (a new filter starts at the first page). */
export function urlQuery(filters: Partial<Filters>, page = 1): URLSearchParams {
  const params = new URLSearchParams();
  for (const name of FILTER_NAMES) {
    const value = filters[name]?.trim();
    if (value) params.set(name, value);
  }
  if (page > 1) params.set("page", String(page));
  return params;
}

/**
 * `since` and `until` are typed in the reader's time (a datetime-local value, "2026-12-02T10:30"); the API wants an
 * instant, so they go as ISO 8601 in UTC. A value that is not a time is left out rather than sent.
 */
function instant(local: string): string | null {
  const at = new Date(local);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

export function apiQuery(params: URLSearchParams): string {
  const filters = filtersFrom(params);
  const query = new URLSearchParams();
  for (const name of FILTER_NAMES) {
    const value = filters[name];
    if (!value) continue;
    if (name === "since" || name === "until") {
      const at = instant(value);
      if (at) query.set(name, at);
    } else {
      query.set(name, value);
    }
  }
  query.set("ordering", "-at");
  query.set("page", String(pageFrom(params)));
  query.set("page_size", String(PAGE_SIZE));
  return query.toString();
}
