-- Packs keep instants (intraday bars): each records its bar interval, its exchange's time zone,
-- and its first and last bar as people read them (a date for daily bars, an RFC 3339 time with
-- its offset for intraday ones). Packs registered before are daily bars in UTC; their first and
-- last bars are their first and last dates.
ALTER TABLE packs ADD COLUMN bar_interval TEXT NOT NULL DEFAULT '1d';
ALTER TABLE packs ADD COLUMN zone TEXT NOT NULL DEFAULT 'UTC';
ALTER TABLE packs ADD COLUMN first_bar TEXT;
ALTER TABLE packs ADD COLUMN last_bar TEXT;
