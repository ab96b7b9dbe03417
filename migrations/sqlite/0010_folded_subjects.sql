-- Subjects are compared without case or accents now ("ΕΠΕΙΓΟΝ" is
-- "Επείγον"). Folding needs Unicode tables SQL does not have: this marks
-- the stored normalized subjects for refolding, which `migrate` does in
-- code right after (and again at the next start if it was interrupted).
INSERT INTO settings (name, value) VALUES ('refold_subjects', X'01')
ON CONFLICT (name) DO NOTHING;
