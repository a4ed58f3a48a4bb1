-- Change tickets, tenant policy, reconciled drift items and the audit log.
SELECT 1;
