import { QueryClient } from "@tanstack/react-query";

import { ApiError } from "../api/client";

/** Client mistakes (4xx) are answers, not hiccups: only network failures and 5xx are tried again. */
function retry(failures: number, error: unknown): boolean {
  if (error instanceof ApiError && error.status >= 400 && error.status < 500) return false;
  return failures < 2;
}

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: { retry, staleTime: 5_000, refetchOnWindowFocus: true },
      mutations: { retry: false },
    },
  });
}
