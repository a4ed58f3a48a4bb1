-- Email outbox and notification schedules.
SELECT 1;
