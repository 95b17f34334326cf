// One query key per API resource. A key is a path from the general to the particular, so invalidating a prefix
// (["deployments"]) refreshes every query below it: after a command, invalidate the resource it changed.

export const keys = {
  me: ["me"] as const,
  info: ["info"] as const,
  teams: ["teams"] as const,
  models: {
    all: ["models"] as const,
    list: (search: string) => ["models", "list", { search }] as const,
    detail: (name: string) => ["models", "detail", name] as const,
    versions: (name: string) => ["models", "detail", name, "versions"] as const,
  },
  deployments: {
    all: ["deployments"] as const,
    list: () => ["deployments", "list"] as const,
    detail: (id: number) => ["deployments", "detail", id] as const,
    ofModel: (model: string) => ["deployments", "of-model", model] as const,
  },
  rollouts: {
    all: ["rollouts"] as const,
    latestOf: (deployment: number) => ["rollouts", "latest-of", deployment] as const,
  },
  tokens: ["tokens"] as const,
  audit: {
    all: ["audit"] as const,
    list: (query: string) => ["audit", "list", { query }] as const,
  },
};
