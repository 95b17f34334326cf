import { describe, expect, it, vi } from "vitest";

import { ApiError } from "../../api/client";
import type { Deployment, MetricHistory, Rollout } from "../../api/types";
import type { ServerMessage } from "../../live/socket";
import { LiveDeployment, type LoadedHistory } from "./liveDeployment";

const T0 = Date.parse("2026-11-27T12:00:00Z");
const METRICS = "deployment-3-metrics";
const EVENTS = "deployment-3";

function loaded(fields: { metricsSeq?: number; eventsSeq?: number; rollout?: Partial<Rollout> | null } = {}): LoadedHistory {
  const history: MetricHistory = {
    deployment: 3,
    start: new Date(T0 - 900_000).toISOString(),
    end: new Date(T0).toISOString(),
    step_s: 5,
    source: "raw",
    seq: fields.metricsSeq ?? 10,
    series: [],
  };
  return {
    deployment: { id: 3, model: "iris", team: "ml", route: "/v1/models/iris", stable_version: 1 } as Deployment,
    history,
    events: { seq: fields.eventsSeq ?? 20, events: [] },
    rollout: fields.rollout === undefined || fields.rollout === null ? null : (fields.rollout as Rollout),
  };
}

function metrics(seq: number, atMs: number, rate = 5): ServerMessage {
  return {
    type: "metrics",
    stream: METRICS,
    seq,
    data: {
      at: new Date(atMs).toISOString(),
      stable_version: 1,
      rollout: null,
      versions: [{ version: 1, at: new Date(atMs).toISOString(), rate, requests: rate, p99_ms: 3 }],
    },
  };
}

function event(seq: number, kind: string, phase: string): ServerMessage {
  return {
    type: "rollout_event",
    stream: EVENTS,
    seq,
    data: {
      rollout: 8,
      phase,
      from_version: 1,
      to_version: 2,
      candidate_weight: 0,
      shadow_percent: 0,
      allowed_commands: phase === "paused" ? ["resume", "abort"] : [],
      event: { kind, message: kind, data: {}, at: new Date(T0).toISOString(), actor: "deployer" },
    },
  };
}

/** A controller whose history loads resolve when the test says. */
function controller() {
  const pending: ((value: LoadedHistory) => void)[] = [];
  const load = vi.fn(() => new Promise<LoadedHistory>((resolve) => pending.push(resolve)));
  const live = new LiveDeployment(3, { load, now: () => T0, setTimer: () => 0, clearTimer: () => undefined });
  const answer = async (value: LoadedHistory = loaded()) => {
    pending.shift()!(value);
    await Promise.resolve();
    await Promise.resolve();
  };
  return { live, load, answer };
}

describe("LiveDeployment: the history merged with the stream", () => {
  it("holds messages that arrive while the history loads, then applies those newer than it", async () => {
    const { live, answer } = controller();
    live.start();
    live.receive(metrics(10, T0 - 1_000, 1)); // already in the history (seq 10)
    live.receive(metrics(11, T0, 7));
    await answer(loaded({ metricsSeq: 10 }));
    const snapshot = live.getSnapshot();
    expect(snapshot.latest?.[0].rate).toBe(7);
    expect(live.series.samples(1).map((s) => s.rate)).toEqual([1, 7]);
  });

  it("reloads the history when a stream's numbers jump (messages were missed)", async () => {
    const { live, load, answer } = controller();
    live.start();
    await answer();
    live.receive(metrics(11, T0));
    expect(load).toHaveBeenCalledTimes(1);
    live.receive(metrics(14, T0 + 1_000)); // 12 and 13 never came
    expect(load).toHaveBeenCalledTimes(2);
    await answer(loaded({ metricsSeq: 13 }));
    expect(live.getSnapshot().latestAt).toBe(T0 + 1_000); // the held message is applied after the reload
  });

  it("lists an event once even when the history already holds it", async () => {
    const { live, answer } = controller();
    live.start();
    await answer(loaded({ eventsSeq: 20 }));
    live.receive(event(20, "started", "pending")); // the history's own
    live.receive(event(21, "paused", "paused"));
    const snapshot = live.getSnapshot();
    expect(snapshot.events.map((e) => e.kind)).toEqual(["paused"]);
    expect(snapshot.rollout?.phase).toBe("paused");
    expect(snapshot.rollout?.allowed_commands).toEqual(["resume", "abort"]);
  });

  it("drops the rollout when an event says it ended, and a success makes its version stable", async () => {
    const { live, answer } = controller();
    live.start();
    await answer(loaded({ rollout: { id: 8, phase: "progressing", from_version: 1, to_version: 2, allowed_commands: [] } }));
    expect(live.getSnapshot().rollout?.id).toBe(8);
    live.receive(event(21, "succeeded", "succeeded"));
    expect(live.getSnapshot().rollout).toBeNull();
    expect(live.getSnapshot().stable).toBe(2);
  });

  it("reloads after a reconnect, and when the hello says a stream moved on", async () => {
    const { live, load, answer } = controller();
    live.start();
    await answer();
    live.receive({ type: "hello", streams: { [METRICS]: 10, [EVENTS]: 20 } });
    expect(load).toHaveBeenCalledTimes(1); // first hello, nothing missed
    live.receive({ type: "hello", streams: { [METRICS]: 10, [EVENTS]: 20 } });
    expect(load).toHaveBeenCalledTimes(2); // a second hello is a reconnect
  });

  it("says there is no access when the history answers 404", async () => {
    const load = vi.fn(() => Promise.reject(new ApiError(404, null, "Not found.")));
    const live = new LiveDeployment(3, { load, now: () => T0, setTimer: () => 0, clearTimer: () => undefined });
    live.start();
    await Promise.resolve();
    await Promise.resolve();
    expect(live.getSnapshot().denied).toBe(true);
  });

  it("retries a history that failed for another reason, saying so", async () => {
    const timers: (() => void)[] = [];
    const load = vi.fn(() => Promise.reject(new ApiError(0, null, "The server did not answer.")));
    const live = new LiveDeployment(3, { load, now: () => T0, setTimer: (run) => timers.push(run), clearTimer: () => undefined });
    live.start();
    await Promise.resolve();
    await Promise.resolve();
    expect(live.getSnapshot().loadError).toContain("The server did not answer. Trying again…");
    expect(timers).toHaveLength(1);
  });
});
