-- Agents running as a service: heartbeats and host events.
SELECT 1;
