import { createContext, useContext } from "react";

import type { User } from "../api/types";

export const UserContext = createContext<User | null>(null);

/** The signed-in user: every page below the shell has one. */
export function useUser(): User {
  const user = useContext(UserContext);
  if (user === null) throw new Error("useUser outside the signed-in shell");
  return user;
}
