-- Per-item leases of long single-item stage work (docs/architecture.md,
-- "Twin deliveries and the stage lease"): a twin of a message runs beside the
-- live attempt when a continuation is sent again (the reconcile timer re-offers
-- an upload hashed in the unpack's read, which re-sends the unpack's latest
-- continuation; the local queue has no duplicate detection, Service Bus's
-- window is shorter than an attempt) or when a message's lock is lost (a
-- failed renewal, a transient Service Bus fault) while its first delivery still
-- runs. Both would read the whole archive or upload (measured, twins from
-- resent continuations: a 4 GiB image read 1.57 times). The stage runner takes the lease
-- of (queue, subject_id) before it runs the stage (unpack: the archive's file
-- id; hash: the upload's root file id), renews it while the stage runs and
-- deletes it when the attempt ends. A delivery that finds a live lease of
-- another holder does no work: it sends a scheduled copy of itself for when
-- the lease expires and completes. Correctness never rests on this row (the
-- stages' continuation points are ETag-guarded); it only keeps two deliveries
-- from doing the same work at once.
--
-- holder is the invocation id of the delivery that runs; expires_at is on the
-- database's clock, so hosts with skewed clocks agree on when a lease is over.
-- A holder that crashed leaves its row: the next delivery takes it over once
-- expires_at has passed (LIMITS.stageLeaseMs after its last renewal).
CREATE TABLE IF NOT EXISTS stage_leases (
  queue        text        NOT NULL,
  subject_id   text        NOT NULL,
  holder       text        NOT NULL,
  message_id   text        NOT NULL,
  acquired_at  timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  PRIMARY KEY (queue, subject_id)
);
