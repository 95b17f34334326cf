import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { cleanup, render, screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { ConfirmProvider } from "../../components/ConfirmDialog";
import { ToastProvider } from "../../components/Toasts";
import { RolloutCard } from "./RolloutCard";
import type { RolloutView } from "./rollout";

afterEach(cleanup);

function show(rollout: Partial<RolloutView>, canCommand = true) {
  const full: RolloutView = {
    id: 12,
    phase: "pending",
    from_version: 1,
    to_version: 2,
    candidate_weight: 0,
    shadow_percent: 0,
    allowed_commands: [],
    ...rollout,
  };
  render(
    <QueryClientProvider client={new QueryClient()}>
      <ToastProvider>
        <ConfirmProvider>
          <RolloutCard rollout={full} deployment={3} canCommand={canCommand} team="ml" onChanged={() => undefined} />
        </ConfirmProvider>
      </ToastProvider>
    </QueryClientProvider>,
  );
}

describe("RolloutCard", () => {
  it("names the rollout, its versions and weights", () => {
    show({ candidate_weight: 10, phase: "progressing", allowed_commands: ["pause", "abort"] });
    expect(screen.getByRole("heading").textContent).toBe("Rollout #12: v1 → v2");
    expect(screen.getByText(/candidate/).textContent).toBe("candidate 10 % · stable v1 90 %");
  });

  it("renders a button for each allowed command and no other", () => {
    show({ phase: "paused", allowed_commands: ["resume", "promote", "abort"] });
    const group = screen.getByRole("group", { name: "Rollout commands" });
    expect(within(group).getAllByRole("button").map((button) => button.textContent)).toEqual([
      "Resume",
      "Promote",
      "Abort",
    ]);
  });

  it("follows the API even when it allows less than the phase suggests", () => {
    show({ phase: "paused", allowed_commands: ["abort"] });
    expect(screen.getAllByRole("button").map((button) => button.textContent)).toEqual(["Abort"]);
  });

  it("gives a viewer the reason instead of buttons", () => {
    show({ allowed_commands: ["pause", "abort"] }, false);
    expect(screen.queryAllByRole("button")).toHaveLength(0);
    expect(screen.getByText("Pausing, resuming, promoting and aborting need the deployer role in team ml.")).toBeTruthy();
  });

  it("says when the phase allows no command at all", () => {
    show({ phase: "warm", allowed_commands: [] });
    expect(screen.queryAllByRole("button")).toHaveLength(0);
    expect(screen.getByText("No command applies while the rollout is warm.")).toBeTruthy();
  });
});
