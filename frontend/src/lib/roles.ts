import type { Role, User } from "../api/types";

/** The user's role in `team`: site admins are admins everywhere; null outside the team. */
export function roleIn(user: User, team: string): Role | null {
  if (user.is_superuser) return "admin";
  return user.teams.find((membership) => membership.team === team)?.role ?? null;
}

/** Deployers and admins upload, deploy and steer rollouts; viewers only look. */
export function canDeploy(user: User, team: string): boolean {
  const role = roleIn(user, team);
  return role === "deployer" || role === "admin";
}

/** Whether the user may write in some team (to offer "New model" at all). */
export function deploysSomewhere(user: User): boolean {
  return user.is_superuser || user.teams.some((m) => m.role === "deployer" || m.role === "admin");
}
