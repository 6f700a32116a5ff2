-- The outcome of a case's mediation (调解结果), recorded by its mediator
-- while it is 调解中 or 调解成功: the agreement's text (personal numbers
-- masked) and the money agreed, in yuan. NULL agreement: none recorded.
-- A court referral (诉调对接) is the case's status 'referred', not an outcome.
ALTER TABLE cases ADD COLUMN IF NOT EXISTS outcome_agreement text;
ALTER TABLE cases ADD COLUMN IF NOT EXISTS outcome_amount numeric(14, 2) CHECK (outcome_amount >= 0);
ALTER TABLE cases ADD COLUMN IF NOT EXISTS outcome_by text;
ALTER TABLE cases ADD COLUMN IF NOT EXISTS outcome_at timestamptz;
