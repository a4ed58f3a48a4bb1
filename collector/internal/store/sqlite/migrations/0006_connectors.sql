-- Reserved for a later migration; left empty on purpose.
SELECT 1;
