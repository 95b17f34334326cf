// TanStack Query hooks over the endpoints: reads are queries under the keys of keys.ts; writes are mutations that
// update or invalidate exactly the resources they change.

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";

import { ApiError } from "./client";
import { type NewModel, api } from "./endpoints";
import { keys } from "./keys";
import type { ApiToken, Deployment, Page, Rollout, RolloutCommand, User } from "./types";

/** The signed-in user, or null when there is no session (the login form shows). */
export function useMe() {
  return useQuery({
    queryKey: keys.me,
    queryFn: async (): Promise<User | null> => {
      try {
        return await api.me();
      } catch (error) {
        if (error instanceof ApiError && (error.status === 401 || error.status === 403)) return null;
        throw error;
      }
    },
    staleTime: Infinity,
    retry: false,
  });
}

/** The server's version, inference URL and token lifetimes: fixed while the page lives. */
export function useServerInfo() {
  return useQuery({ queryKey: keys.info, queryFn: api.info, staleTime: Infinity });
}

export function useTeams() {
  return useQuery({ queryKey: keys.teams, queryFn: api.teams, staleTime: 60_000 });
}

export function useModels(search: string) {
  return useQuery({
    queryKey: keys.models.list(search),
    queryFn: () => api.models(search),
    placeholderData: (previous) => previous, // the last answer stays while a new search runs
  });
}

export function useModel(name: string) {
  return useQuery({ queryKey: keys.models.detail(name), queryFn: () => api.model(name) });
}

export function useVersions(model: string) {
  return useQuery({ queryKey: keys.models.versions(model), queryFn: () => api.versions(model) });
}

export function useDeployments() {
  return useQuery({ queryKey: keys.deployments.list(), queryFn: api.deployments, refetchInterval: 30_000 });
}

export function useDeploymentOf(model: string) {
  return useQuery({ queryKey: keys.deployments.ofModel(model), queryFn: () => api.deploymentOf(model) });
}

export function useLatestRollout(deployment: number) {
  return useQuery({ queryKey: keys.rollouts.latestOf(deployment), queryFn: () => api.latestRollout(deployment) });
}

export function useCreateModel() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (fields: NewModel) => api.createModel(fields),
    onSuccess: (model) => {
      client.setQueryData(keys.models.detail(model.name), model);
      return client.invalidateQueries({ queryKey: keys.models.all });
    },
  });
}

/**
 * Serve `version` of `model` at 100 %: create the model's deployment, or point the existing one at the version.
 * The model page shows the new version as serving at once and goes back if the server refuses.
 */
export function useDeploy(model: string) {
  const client = useQueryClient();
  const key = keys.deployments.ofModel(model);
  return useMutation({
    mutationFn: async (version: number): Promise<Deployment> => {
      const current = await api.deploymentOf(model);
      return current === null ? api.createDeployment(model, version) : api.updateDeployment(current.id, version);
    },
    onMutate: async (version) => {
      await client.cancelQueries({ queryKey: key });
      const before = client.getQueryData<Deployment | null>(key);
      client.setQueryData<Deployment | null>(key, (current) => (current ? { ...current, stable_version: version } : current));
      return { before };
    },
    onError: (_error, _version, context) => {
      if (context) client.setQueryData(key, context.before);
    },
    onSuccess: (deployment) => {
      client.setQueryData(key, deployment);
      client.setQueryData(keys.deployments.detail(deployment.id), deployment);
    },
    onSettled: () => client.invalidateQueries({ queryKey: keys.deployments.all }),
  });
}

export interface CommandRequest {
  rollout: number;
  deployment: number;
  command: RolloutCommand;
}

/**
 * Pause, resume, promote or abort. While the command is in flight the cached rollout offers no command (no second
 * click can race it); the answer, with its own `allowed_commands`, replaces it.
 */
export function useRolloutCommand() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ rollout, command }: CommandRequest) => api.rolloutCommand(rollout, command),
    onMutate: async ({ deployment }) => {
      const key = keys.rollouts.latestOf(deployment);
      await client.cancelQueries({ queryKey: key });
      const before = client.getQueryData<Rollout | null>(key);
      client.setQueryData<Rollout | null>(key, (current) => (current ? { ...current, allowed_commands: [] } : current));
      return { before };
    },
    onError: (_error, { deployment }, context) => {
      if (context?.before !== undefined) client.setQueryData(keys.rollouts.latestOf(deployment), context.before);
    },
    onSuccess: (rollout, { deployment }) => {
      client.setQueryData(keys.rollouts.latestOf(deployment), rollout);
    },
    // A promote or an abort can change what serves: every view of deployments refreshes.
    onSettled: () => client.invalidateQueries({ queryKey: keys.deployments.all }),
  });
}

export function useTokens() {
  return useQuery({ queryKey: keys.tokens, queryFn: api.tokens });
}

export function useCreateToken() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: ({ name, expiresInDays }: { name: string; expiresInDays: number }) =>
      api.createToken(name, expiresInDays),
    onSettled: () =>
      Promise.all([
        client.invalidateQueries({ queryKey: keys.tokens }),
        client.invalidateQueries({ queryKey: keys.audit.all }),
      ]),
  });
}

/** Revoke a token: the list shows it revoked at once and goes back if the server refuses. */
export function useRevokeToken() {
  const client = useQueryClient();
  return useMutation({
    mutationFn: (id: number) => api.revokeToken(id),
    onMutate: async (id) => {
      await client.cancelQueries({ queryKey: keys.tokens });
      const before = client.getQueryData<Page<ApiToken>>(keys.tokens);
      client.setQueryData<Page<ApiToken>>(keys.tokens, (current) =>
        current
          ? {
              ...current,
              results: current.results.map((token) =>
                token.id === id ? { ...token, is_active: false, revoked_at: new Date().toISOString() } : token,
              ),
            }
          : current,
      );
      return { before };
    },
    onError: (_error, _id, context) => {
      if (context?.before) client.setQueryData(keys.tokens, context.before);
    },
    onSettled: () =>
      Promise.all([
        client.invalidateQueries({ queryKey: keys.tokens }),
        client.invalidateQueries({ queryKey: keys.audit.all }),
      ]),
  });
}

/** One page of the audit log for `query` (filters and page, as pages/audit/filters.ts builds it). */
export function useAudit(query: string) {
  return useQuery({
    queryKey: keys.audit.list(query),
    queryFn: () => api.audit(query),
    placeholderData: (previous) => previous, // the last page stays while the next one loads
  });
}
