// Where each page lives: pages link with these, never with hand-built strings.

export const paths = {
  overview: () => "/",
  models: () => "/models",
  model: (name: string) => `/models/${encodeURIComponent(name)}`,
  deployment: (id: number) => `/deployments/${id}`,
  tokens: () => "/tokens",
  audit: (query = "") => (query ? `/audit?${query}` : "/audit"),
};
