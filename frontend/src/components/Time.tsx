import { dateTime, eventTime, fullDateTime } from "../lib/format";

/** A readable local date, with the exact ISO timestamp in the tooltip. */
export function DateTime({ iso }: { iso: string }) {
  return (
    <time dateTime={iso} title={iso}>
      {dateTime(iso)}
    </time>
  );
}

/** Today's events by their time of day, older ones with their date too. */
export function EventTime({ iso }: { iso: string }) {
  return (
    <time dateTime={iso} title={fullDateTime(iso)}>
      {eventTime(iso)}
    </time>
  );
}
