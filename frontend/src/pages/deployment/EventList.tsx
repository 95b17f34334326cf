import type { DeploymentEvent } from "../../api/types";
import { EventTime } from "../../components/Time";

/** The badge colour of an event: failures and rollbacks red, successes green, pauses amber. */
export function eventTone(kind: string): "bad" | "ok" | "warn" | "idle" {
  if (/fail|abort|rollback|rolled_back|refused|error/.test(kind)) return "bad";
  if (/succeed|promot|ready|switch|deployed/.test(kind)) return "ok";
  if (/pause|inconclusive/.test(kind)) return "warn";
  return "idle";
}

/** Rollout and deployment events, newest first. */
export function EventList({ events }: { events: DeploymentEvent[] }) {
  return (
    <section className="card events-card" aria-labelledby="events-title">
      <h2 id="events-title">Rollout events</h2>
      <ol className="events" aria-label="Rollout events, newest first">
        {events.length === 0 ? (
          <li className="events-empty muted">No rollout events yet.</li>
        ) : (
          events.map((event, index) => (
            <li key={`${event.id}-${index}`} className="event" data-kind={event.kind}>
              <EventTime iso={event.at} />
              <span className={`badge tone-${eventTone(event.kind)}`}>{event.kind}</span>
              <span className="event-message">{event.message}</span>
              <span className="event-meta muted small">
                {event.rollout === null ? "" : `rollout #${event.rollout}`}
                {event.actor_username ? ` · by ${event.actor_username}` : ""}
              </span>
            </li>
          ))
        )}
      </ol>
    </section>
  );
}
