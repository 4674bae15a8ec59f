"""The verdicts, written by hand in SQL: the yardstick the sweep is timed against.

`statuses(as_of, known_at)` computes the status of every commitment in force in a few statements
that PostgreSQL runs itself, with none of the engine's Python. It honours the engine's semantics
(docs/architecture.md), so the benchmark can assert that the two agree commitment by commitment:

- names (categories, provinces, places, actors) are folded as `terms.rules.normalize_name` folds
  them: decomposed, accents dropped, lower case, runs of other characters one space (the
  Latin-script names of the benchmark's data fold the same in both);
- a report exists from when it was recorded; its verification state is the one it had at the
  cutoff; rejected reports never count, verified ones do, claimed ones when graded B2 or better,
  disputed ones decide nothing alone: a commitment is judged again with them, and is disputed if
  the two statuses differ;
- a report counts for a commitment by its rule's categories (event or sub-event type), places
  (province or place) and attribution (owing parties and the names sources use for them,
  unidentified actors, anyone), read in actor1 or actor2 (`actors: either`, the default) or actor1
  alone (`actors: actor1`), or by a hand-made link (the benchmark's data has no non-party actors,
  joint actors or interactions, which this does not read);
- windows open at local midnight of their first day, deadlines end at local midnight after their
  last day, grace extends the missed instant; days are counted in the agreement's zone, months
  clamp to the month's end (PostgreSQL's date + interval does what relativedelta does);
- deadlines: met by the first act by the last instant it surely happened (the end of its day,
  week or month, or when it was recorded if earlier), a counting denial contesting the acts at or
  before it (disputed if the verdict with them differs from the one without); targets: the
  last measurement before the due instant, then the first one reaching it; ceilings: events
  (a group of reports counted once, on its earliest) per local day against the limit, with the
  days some source covers, a breach over after `recovery_days` complete days with data at or
  under the limit; prohibitions: breached from the first violation, over `recovery_days` after
  the last one; a ceiling or prohibition in compliance is no data when no source declares or
  report carried its categories, or sources cover less than the agreement's `coverage_share`
  of its days (docs/architecture.md, "Verdicts that claim no more than the evidence");
- a commitment counted from another starts on the local day the other was met; anchors are
  resolved a round at a time (the benchmark's data anchors on deadlines, whose `since` this
  computes; a target as an anchor would need its run of on-target measurements, which this does not).

Every rule in the benchmark's data names categories; a rule that names none (every report counts)
would need a join of every report with it, which this does not do.

It is meant as the floor: what PostgreSQL alone takes, written as well as we can. Only reports in a
category some rule in force names (or linked by hand) are read past the first scan; a report's
places and actors are folded once per spelling; which report counts for which commitment is a table
of ids (`sql_pairs`), joined to what the report says only where an aggregate reads it; a ceiling's
events per day and a prohibition's violations are counted for both variants (counting reports,
and with the disputed ones) in one pass over the pairs; every aggregate is grouped once, never a
subquery per commitment. Run `statuses(..., explain=True)` to see each main statement's plan.
"""

NORM = r"""
CREATE FUNCTION pg_temp.norm(t text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT btrim(regexp_replace(regexp_replace(lower(normalize(coalesce(t, ''), NFKD)),
                                             '[\u0300-\u036f]', '', 'g'),
                              '[^[:alnum:]_]+', ' ', 'g'))
$$
"""

# Every category and sub-category spelling the reports use, folded once (a few hundred), rather than once per row:
# what picks the reports some rule can count, and what says which categories some report carried.
CATEGORY_NAMES = """
CREATE TEMPORARY TABLE sql_category_names ON COMMIT DROP AS
SELECT raw, pg_temp.norm(raw) AS n
FROM (SELECT DISTINCT unnest(ARRAY[category, sub_category]) AS raw
      FROM evidence_report WHERE recorded_at <= %(known_at)s) spellings
"""

TERMS = """
CREATE TEMPORARY TABLE sql_terms ON COMMIT DROP AS
SELECT c.id, c.kind, a.time_zone AS tz, a.signed_on, c.anchor, c.anchor_commitment_id AS anchor_id,
       c.offset_unit AS unit, c.starts_offset, c.due_offset, c.ends_offset, c.grace_days, c.tracked,
       coalesce(c.rule->>'attribution', 'owing') AS attribution,
       coalesce(c.rule->>'actors', 'either') = 'either' AS either,
       (c.rule->>'limit')::int AS lim,
       coalesce(c.rule->>'period', 'day') AS period,
       (c.rule->>'target')::float8 AS target,
       coalesce(c.rule->>'direction', 'at_most') AS direction,
       CASE WHEN c.kind = 'ceiling' AND NOT c.rule ? 'recovery_days' THEN 3
            ELSE (c.rule->>'recovery_days')::int END AS recovery,
       ARRAY(SELECT DISTINCT pg_temp.norm(x) FROM jsonb_array_elements_text(coalesce(c.rule->'categories', '[]')) x)
         AS cats,
       ARRAY(SELECT DISTINCT pg_temp.norm(x) FROM jsonb_array_elements_text(coalesce(c.rule->'admin1', '[]')) x)
         AS admin1s,
       ARRAY(SELECT DISTINCT pg_temp.norm(x) FROM jsonb_array_elements_text(coalesce(c.rule->'locations', '[]')) x)
         AS locs,
       ARRAY(SELECT pg_temp.norm(p.name) FROM terms_commitment_owed_by o JOIN terms_party p ON p.id = o.party_id
             WHERE o.commitment_id = c.id
             UNION
             SELECT pn.normalized FROM terms_commitment_owed_by o JOIN terms_partyname pn ON pn.party_id = o.party_id
             WHERE o.commitment_id = c.id) AS owing,
       a.coverage_share AS share
FROM terms_commitment c JOIN terms_agreement a ON a.id = c.agreement_id
WHERE a.state = 'in_force'
"""

# The categories some source declares or some report known at the cutoff carried: a ceiling or prohibition
# whose rule names none of them is no data ("no source reports this"), never in compliance.
REPORTED = """
CREATE TEMPORARY TABLE sql_reported ON COMMIT DROP AS
SELECT n FROM sql_category_names WHERE raw <> ''
UNION
SELECT pg_temp.norm(x) FROM evidence_source, jsonb_array_elements_text(categories) x WHERE x <> ''
"""

# The reports that can decide something at the cutoff, with their names folded and their standing. Only those
# in a category some rule in force names, or linked by hand to a commitment in force, are read past the first
# scan (the filter is on the spellings, so it is a hashed lookup per row, not a fold); their places and actors
# are folded after that, once per spelling.
REPORTS = """
CREATE TEMPORARY TABLE sql_reports ON COMMIT DROP AS
WITH wanted AS (
  SELECT raw FROM sql_category_names WHERE n IN (SELECT unnest(cats) FROM sql_terms)
),
state AS (
  SELECT DISTINCT ON (report_id) report_id, new_state
  FROM evidence_verificationchange WHERE changed_at <= %(known_at)s
  ORDER BY report_id, changed_at DESC, id DESC
),
candidates AS MATERIALIZED (
  SELECT r.id, r.occurred_at, r.occurred_until, r.precision, r.recorded_at, r.stance, r.value, r.event_id,
         r.commitment_id, r.category, r.sub_category, r.admin1, r.location, r.actor1, r.actor2,
         coalesce(st.new_state, 'claimed') = 'verified'
           OR (coalesce(st.new_state, 'claimed') = 'claimed' AND s.reliability IN ('A', 'B')
               AND r.credibility IN (1, 2)) AS counts
  FROM evidence_report r
  JOIN evidence_source s ON s.id = r.source_id
  LEFT JOIN state st ON st.report_id = r.id
  WHERE r.recorded_at <= %(known_at)s
    AND r.occurred_at <= %(as_of)s
    AND (r.category IN (SELECT raw FROM wanted) OR r.sub_category IN (SELECT raw FROM wanted)
         OR r.commitment_id IN (SELECT id FROM sql_terms))
    AND (coalesce(st.new_state, 'claimed') IN ('verified', 'disputed')
         OR (coalesce(st.new_state, 'claimed') = 'claimed' AND s.reliability IN ('A', 'B') AND r.credibility IN (1, 2)))
),
names AS (
  SELECT raw, pg_temp.norm(raw) AS n
  FROM (SELECT DISTINCT unnest(ARRAY[admin1, location, actor1, actor2]) AS raw FROM candidates) spellings
)
SELECT r.id, r.occurred_at AS occ, r.occurred_until AS occ_until, r.precision, r.recorded_at,
       r.stance = 'affirms' AS affirms, r.value, r.event_id, r.commitment_id,
       cat.n AS cat, sub.n AS sub, a1.n AS admin1, loc.n AS loc, act.n AS actor, act2.n AS actor2, r.counts
FROM candidates r
JOIN sql_category_names cat ON cat.raw = r.category
JOIN sql_category_names sub ON sub.raw = r.sub_category
JOIN names a1 ON a1.raw = r.admin1
JOIN names loc ON loc.raw = r.location
JOIN names act ON act.raw = r.actor1
JOIN names act2 ON act2.raw = r.actor2
"""

# What rules select reports by: once per category a report answers to (event type, sub-event type) and
# per actor it names (actor1, `first`; actor2 when it names one). An empty actor2 is no second actor.
EVIDENCE = """
CREATE TEMPORARY TABLE sql_evidence ON COMMIT DROP AS
SELECT r.id, c.catkey, r.occ, r.admin1, r.loc, side.actor, side.n = 1 AS first,
       (side.actor LIKE 'unidentified%%' OR (side.n = 1 AND side.actor = '')) AS unidentified, r.commitment_id
FROM sql_reports r
CROSS JOIN LATERAL unnest(CASE WHEN r.sub IN ('', r.cat) THEN ARRAY[r.cat] ELSE ARRAY[r.cat, r.sub] END) AS c(catkey)
CROSS JOIN LATERAL unnest(CASE WHEN r.actor2 = '' THEN ARRAY[r.actor] ELSE ARRAY[r.actor, r.actor2] END)
  WITH ORDINALITY AS side(actor, n)
"""

# Coverage as date multiranges: countrywide, and per province (folded), as known at the cutoff.
COVERAGE = """
CREATE TEMPORARY TABLE sql_coverage ON COMMIT DROP AS
SELECT CASE WHEN admin1 = '' THEN NULL ELSE pg_temp.norm(admin1) END AS province,
       range_agg(daterange(starts_on, ends_on, '[]')) AS days
FROM evidence_coverage WHERE recorded_at <= %(known_at)s
GROUP BY 1
"""

# The days a source covers for each ceiling: any countrywide day, or a day every province it names is covered.
TERM_COVERAGE = """
CREATE TEMPORARY TABLE sql_term_coverage ON COMMIT DROP AS
SELECT t.id,
       coalesce((SELECT days FROM sql_coverage WHERE province IS NULL), '{}'::datemultirange)
       + CASE WHEN cardinality(t.admin1s) = 0 THEN '{}'::datemultirange
              ELSE (SELECT range_intersect_agg(coalesce(c.days, '{}'::datemultirange))
                    FROM unnest(t.admin1s) p LEFT JOIN sql_coverage c ON c.province = p) END AS days
FROM sql_terms t WHERE t.kind IN ('ceiling', 'prohibition')
"""

ROUNDS = (
    "CREATE TEMPORARY TABLE sql_rounds (id bigint PRIMARY KEY, anchor_day date, round int) ON COMMIT DROP",
    "CREATE TEMPORARY TABLE sql_verdicts (id bigint PRIMARY KEY, status text, since timestamptz) ON COMMIT DROP",
    """
INSERT INTO sql_rounds SELECT id, signed_on, 0 FROM sql_terms
WHERE tracked AND anchor = 'signing' AND signed_on IS NOT NULL
""",
)

# The next round: commitments counted from one judged met in the previous round.
NEXT_ROUND = """
INSERT INTO sql_rounds
SELECT t.id, (v.since AT TIME ZONE t.tz)::date, %(round)s
FROM sql_terms t JOIN sql_verdicts v ON v.id = t.anchor_id
WHERE t.tracked AND t.anchor = 'commitment' AND v.status IN ('met', 'met_late') AND v.since IS NOT NULL
  AND t.id NOT IN (SELECT id FROM sql_rounds)
"""

# One round: each commitment's window, in its agreement's zone.
WINDOWS = """
CREATE TEMPORARY TABLE sql_windows ON COMMIT DROP AS
WITH days AS (
  SELECT t.*, r.anchor_day,
         CASE WHEN t.unit = 'months' THEN (r.anchor_day + make_interval(months => t.starts_offset))::date
              ELSE r.anchor_day + t.starts_offset END AS opens_day,
         CASE WHEN t.due_offset IS NULL THEN NULL
              WHEN t.unit = 'months' THEN (r.anchor_day + make_interval(months => t.due_offset))::date
              ELSE r.anchor_day + t.due_offset END AS due_day,
         CASE WHEN t.ends_offset IS NULL THEN NULL
              WHEN t.unit = 'months' THEN (r.anchor_day + make_interval(months => t.ends_offset))::date
              ELSE r.anchor_day + t.ends_offset END AS last_day
  FROM sql_rounds r JOIN sql_terms t ON t.id = r.id
  WHERE r.round = %(round)s
),
w AS (
  SELECT d.*,
         (opens_day::timestamp AT TIME ZONE tz) AS opens_at,
         ((due_day + 1)::timestamp AT TIME ZONE tz) AS due_at,
         ((due_day + 1 + grace_days)::timestamp AT TIME ZONE tz) AS missed_at,
         ((last_day + 1)::timestamp AT TIME ZONE tz) AS closes_at,
         (%(as_of)s::timestamptz AT TIME ZONE tz)::date AS today
  FROM days d
)
-- The reports that can matter occurred in [lo, hi): all of them for a target, from the opening for
-- a deadline, inside the window for a ceiling or a prohibition.
SELECT w.*,
       CASE WHEN kind = 'target' THEN '-infinity'::timestamptz ELSE opens_at END AS lo,
       CASE WHEN kind IN ('ceiling', 'prohibition') THEN coalesce(closes_at, 'infinity') ELSE 'infinity' END AS hi
FROM w
"""

# Which reports each commitment may count, by the narrowest key its rule allows: category, then
# province or place (or anywhere), then acting party (an owing one, any unidentified one, or anyone).
SELECTORS = """
CREATE TEMPORARY TABLE sql_selectors ON COMMIT DROP AS
WITH places AS (
  SELECT w.id, 'admin1' AS place_by, p.x AS place FROM sql_windows w, unnest(w.admin1s) p(x)
  UNION ALL
  SELECT w.id, 'loc', p.x FROM sql_windows w, unnest(w.locs) p(x)
  UNION ALL
  SELECT w.id, 'anywhere', NULL FROM sql_windows w WHERE cardinality(w.admin1s) = 0 AND cardinality(w.locs) = 0
),
actors AS (
  SELECT w.id, 'party' AS actor_by, o.x AS actor FROM sql_windows w, unnest(w.owing) o(x) WHERE w.attribution <> 'any'
  UNION ALL
  SELECT w.id, 'unidentified', NULL FROM sql_windows w WHERE w.attribution = 'owing_or_unidentified'
  UNION ALL
  SELECT w.id, 'anyone', NULL FROM sql_windows w WHERE w.attribution = 'any'
)
SELECT w.id AS tid, c.cat, p.place_by, p.place, a.actor_by, a.actor, w.either, w.lo, w.hi
FROM sql_windows w CROSS JOIN LATERAL unnest(w.cats) c(cat)
JOIN places p ON p.id = w.id JOIN actors a ON a.id = w.id
"""

# Which report counts for which commitment, as ids alone: what the report says is read from `sql_reports`
# by each aggregate that needs it, rather than copied into every pair.
PAIRS = """
CREATE TEMPORARY TABLE sql_pairs ON COMMIT DROP AS
WITH matched AS (
  SELECT s.tid, e.id FROM sql_selectors s
  JOIN sql_evidence e ON e.catkey = s.cat AND e.admin1 = s.place AND e.actor = s.actor
  WHERE s.place_by = 'admin1' AND s.actor_by = 'party' AND (s.either OR e.first) AND e.occ >= s.lo AND e.occ < s.hi
  UNION ALL
  SELECT s.tid, e.id FROM sql_selectors s JOIN sql_evidence e ON e.catkey = s.cat AND e.admin1 = s.place
  WHERE s.place_by = 'admin1' AND (
    (s.actor_by = 'anyone' AND e.first) OR (s.actor_by = 'unidentified' AND e.unidentified AND (s.either OR e.first)))
    AND e.occ >= s.lo AND e.occ < s.hi
  UNION ALL
  SELECT s.tid, e.id FROM sql_selectors s
  JOIN sql_evidence e ON e.catkey = s.cat AND e.loc = s.place AND e.actor = s.actor
  WHERE s.place_by = 'loc' AND s.actor_by = 'party' AND (s.either OR e.first) AND e.occ >= s.lo AND e.occ < s.hi
  UNION ALL
  SELECT s.tid, e.id FROM sql_selectors s JOIN sql_evidence e ON e.catkey = s.cat AND e.loc = s.place
  WHERE s.place_by = 'loc' AND (
    (s.actor_by = 'anyone' AND e.first) OR (s.actor_by = 'unidentified' AND e.unidentified AND (s.either OR e.first)))
    AND e.occ >= s.lo AND e.occ < s.hi
  UNION ALL
  SELECT s.tid, e.id FROM sql_selectors s JOIN sql_evidence e ON e.catkey = s.cat AND e.actor = s.actor
  WHERE s.place_by = 'anywhere' AND s.actor_by = 'party' AND (s.either OR e.first) AND e.occ >= s.lo AND e.occ < s.hi
  UNION ALL
  SELECT s.tid, e.id FROM sql_selectors s JOIN sql_evidence e ON e.catkey = s.cat
  WHERE s.place_by = 'anywhere' AND (
    (s.actor_by = 'anyone' AND e.first) OR (s.actor_by = 'unidentified' AND e.unidentified AND (s.either OR e.first)))
    AND e.occ >= s.lo AND e.occ < s.hi
  UNION ALL
  -- A report linked by hand counts whatever its category.
  SELECT w.id, e.id FROM sql_windows w JOIN sql_reports e ON e.commitment_id = w.id
  WHERE e.occ >= w.lo AND e.occ < w.hi
)
SELECT p.tid, p.id, w.kind FROM (SELECT DISTINCT tid, id FROM matched) p JOIN sql_windows w ON w.id = p.tid
"""

# Judged from the counting reports (v = 0), and again with the disputed ones (v = 1) where there are any, or,
# for a deadline, a counting denial (the acts it contests are judged apart, as disputed ones are).
VARIANTS = """
CREATE TEMPORARY TABLE sql_variants ON COMMIT DROP AS
SELECT id AS tid, 0 AS v FROM sql_windows
UNION ALL
SELECT DISTINCT p.tid, 1 FROM sql_pairs p JOIN sql_reports r ON r.id = p.id
WHERE NOT r.counts OR (p.kind = 'deadline' AND NOT r.affirms)
"""

JUDGE = """
INSERT INTO sql_verdicts
WITH w AS (SELECT * FROM sql_windows),
variants AS (SELECT * FROM sql_variants),
-- Each pair with what its report says, joined where an aggregate reads it (not materialized once for all).
disputed AS (SELECT tid FROM sql_variants WHERE v = 1),
pr AS NOT MATERIALIZED (
  SELECT p.tid, p.kind, r.id, r.occ, r.occ_until, r.precision, r.recorded_at, r.affirms, r.value, r.event_id,
         r.counts
  FROM sql_pairs p JOIN sql_reports r ON r.id = p.id
),
-- The pairs each variant judges from (a commitment with no disputed report has no second one), for the
-- deadlines, targets and grouped events; ceilings' and prohibitions' other reports are counted for both
-- variants in one pass below, rather than read twice.
pv AS NOT MATERIALIZED (
  SELECT pr.*, 0 AS v FROM pr WHERE pr.counts
  UNION ALL
  SELECT pr.*, 1 AS v FROM pr WHERE pr.tid IN (SELECT tid FROM disputed)
),
-- Deadlines: the first act by when it surely happened. A counting denial ("it had not happened by then")
-- contests every act dated at or before it, and one grouped with acts as one event contests those: the
-- counting variant judges without them, the other with them, and the two differing is a dispute (as the
-- engine weighs them, monitor/verdicts/engine/weighing.py). Denials before the window contest nothing
-- (the acts they could contest are outside it), and they are not paired.
denials AS (
  SELECT p.tid, max(p.occ) AS until, array_agg(p.event_id) FILTER (WHERE p.event_id IS NOT NULL) AS events
  FROM pr p WHERE p.kind = 'deadline' AND p.counts AND NOT p.affirms
  GROUP BY p.tid
),
acts AS (
  SELECT DISTINCT ON (p.tid, p.v) p.tid, p.v, p.occ,
         greatest(p.occ + interval '1 minute', least(
           CASE WHEN p.occ_until IS NOT NULL THEN greatest(p.occ_until, p.occ + interval '1 minute')
                WHEN p.precision = 'minute' THEN p.occ + interval '1 minute'
                ELSE (((p.occ AT TIME ZONE w.tz)::date
                       + CASE p.precision WHEN 'week' THEN interval '7 days' WHEN 'month' THEN interval '1 month'
                                          ELSE interval '1 day' END)::date::timestamp AT TIME ZONE w.tz) END,
           p.recorded_at)) AS done_by
  FROM pv p JOIN w ON w.id = p.tid LEFT JOIN denials d ON d.tid = p.tid
  WHERE p.kind = 'deadline' AND w.kind = 'deadline' AND p.affirms
    AND NOT (p.v = 0 AND d.tid IS NOT NULL AND (p.occ <= d.until OR coalesce(p.event_id = ANY (d.events), false)))
  ORDER BY p.tid, p.v, 4, p.id
),
deadline AS (
  SELECT v.tid, v.v,
         CASE WHEN a.tid IS NULL THEN
                CASE WHEN %(as_of)s >= w.missed_at THEN 'missed'
                     WHEN %(as_of)s >= w.due_at OR w.due_day - w.today <= %(soon)s THEN 'due_soon'
                     ELSE 'not_yet_due' END
              WHEN a.done_by <= w.due_at THEN 'met'
              ELSE 'met_late' END AS status,
         CASE WHEN a.done_by <= w.due_at THEN a.occ ELSE greatest(a.occ, w.due_at) END AS since
  FROM variants v JOIN w ON w.id = v.tid LEFT JOIN acts a ON a.tid = v.tid AND a.v = v.v
  WHERE w.kind = 'deadline'
),
-- Targets: the latest measurement before the due instant decides; reaching it later is met late.
measured AS (
  SELECT p.tid, p.v,
         (array_agg(p.value ORDER BY p.occ DESC, p.id DESC) FILTER (WHERE p.occ < w.due_at))[1] AS at_due,
         bool_or(p.occ >= w.due_at AND CASE WHEN w.direction = 'at_most' THEN p.value <= w.target
                                            ELSE p.value >= w.target END) AS reached_late
  FROM pv p JOIN w ON w.id = p.tid
  WHERE p.kind = 'target' AND w.kind = 'target' AND p.affirms AND p.value IS NOT NULL
  GROUP BY p.tid, p.v
),
target AS (
  SELECT v.tid, v.v,
         CASE WHEN %(as_of)s < w.due_at THEN
                CASE WHEN w.due_day - w.today <= %(soon)s THEN 'due_soon' ELSE 'not_yet_due' END
              WHEN m.at_due IS NOT NULL AND CASE WHEN w.direction = 'at_most' THEN m.at_due <= w.target
                                                  ELSE m.at_due >= w.target END THEN 'met'
              WHEN m.reached_late THEN 'met_late'
              WHEN %(as_of)s >= w.missed_at THEN CASE WHEN m.tid IS NULL THEN 'no_data' ELSE 'missed' END
              ELSE 'due_soon' END AS status
  FROM variants v JOIN w ON w.id = v.tid LEFT JOIN measured m ON m.tid = v.tid AND m.v = v.v
  WHERE w.kind = 'target'
),
-- Ceilings: one event per group, on its earliest report; per local day unless the period is the window.
-- (Most reports are in no group: those are events already, and only grouped ones are sorted.)
ungrouped AS (
  SELECT p.tid, (p.occ AT TIME ZONE w.tz)::date AS day, count(*) FILTER (WHERE p.counts) AS n0, count(*) AS n1
  FROM pr p JOIN w ON w.id = p.tid
  WHERE p.kind = 'ceiling' AND w.kind = 'ceiling' AND p.affirms
    AND (w.period = 'window' OR p.precision IN ('minute', 'day')) AND p.event_id IS NULL
  GROUP BY p.tid, 2
),
events AS (
  SELECT tid, 0 AS v, day, n0 AS n FROM ungrouped WHERE n0 > 0
  UNION ALL
  SELECT tid, 1, day, n1 FROM ungrouped WHERE tid IN (SELECT tid FROM disputed)
  UNION ALL
  SELECT tid, v, day, 1 FROM (
    SELECT DISTINCT ON (p.tid, p.v, p.event_id) p.tid, p.v, (p.occ AT TIME ZONE w.tz)::date AS day
    FROM pv p JOIN w ON w.id = p.tid
    WHERE p.kind = 'ceiling' AND w.kind = 'ceiling' AND p.affirms
      AND (w.period = 'window' OR p.precision IN ('minute', 'day')) AND p.event_id IS NOT NULL
    ORDER BY p.tid, p.v, p.event_id, p.occ, p.id
  ) grouped
),
per_day AS (
  SELECT e.tid, e.v, e.day, sum(e.n)::bigint AS n FROM events e GROUP BY e.tid, e.v, e.day
),
ceiling_days AS (
  SELECT w.id AS tid,
         (w.opens_at AT TIME ZONE w.tz)::date AS first_day,
         CASE WHEN least(%(as_of)s, coalesce(w.closes_at, 'infinity')) > w.opens_at
              THEN ((least(%(as_of)s, coalesce(w.closes_at, 'infinity')) - interval '1 microsecond')
                    AT TIME ZONE w.tz)::date
              ELSE (w.opens_at AT TIME ZONE w.tz)::date END AS last_day0,
         (least(%(as_of)s, coalesce(w.closes_at, 'infinity')) AT TIME ZONE w.tz)::date - 1 AS last_complete,
         c.days AS covered
  FROM w JOIN sql_term_coverage c ON c.id = w.id
  WHERE w.kind = 'ceiling'
),
ceiling_counts AS (
  SELECT v.tid, v.v,
         coalesce(sum(d.n), 0) AS events,
         max(d.day) AS last_event_day,
         max(d.day) FILTER (WHERE d.n > w.lim) AS last_breach
  FROM variants v JOIN w ON w.id = v.tid LEFT JOIN per_day d ON d.tid = v.tid AND d.v = v.v
  WHERE w.kind = 'ceiling'
  GROUP BY v.tid, v.v
),
-- Complete days with data after the last breach: covered ones, and uncovered ones with events.
ceiling_clean AS (
  SELECT cc.tid, cc.v,
         (SELECT coalesce(sum(upper(r) - lower(r)), 0)
          FROM unnest(cd.covered * datemultirange(daterange(
                 cc.last_breach + 1,
                 greatest(cc.last_breach + 1,
                          least(greatest(cd.last_day0, cc.last_event_day), cd.last_complete) + 1)))) r)
         + count(d.day) FILTER (WHERE d.day > cc.last_breach AND d.day <= cd.last_complete
                                AND NOT cd.covered @> d.day) AS days
  FROM ceiling_counts cc JOIN ceiling_days cd ON cd.tid = cc.tid
  LEFT JOIN per_day d ON d.tid = cc.tid AND d.v = cc.v
  WHERE cc.last_breach IS NOT NULL
  GROUP BY cc.tid, cc.v, cc.last_breach, cd.covered, cd.last_day0, cc.last_event_day, cd.last_complete
),
-- "In compliance" needs enough evidence (docs/architecture.md, "Verdicts that claim no more than the evidence"):
-- some source reports a category the rule names, and the days with data (covered, or with an event) are at
-- least the agreement's share of the days looked at.
-- (Days with events that no source covers, counted per ceiling in one pass over the days, not once per ceiling.)
ceiling_uncovered AS (
  SELECT d.tid, d.v, count(*) AS days
  FROM per_day d JOIN ceiling_days cd ON cd.tid = d.tid
  WHERE NOT cd.covered @> d.day
  GROUP BY d.tid, d.v
),
ceiling_enough AS (
  SELECT cc.tid, cc.v,
         (cardinality(w.cats) = 0 OR EXISTS (SELECT 1 FROM sql_reported r WHERE r.n = ANY (w.cats)))
         AND (coalesce(w.share, 0) = 0 OR 100 * (
                (SELECT coalesce(sum(upper(r) - lower(r)), 0)
                 FROM unnest(cd.covered * datemultirange(daterange(
                        cd.first_day, greatest(cd.last_day0, cc.last_event_day), '[]'))) r)
                + coalesce(u.days, 0))
              >= w.share * ((greatest(cd.last_day0, cc.last_event_day) - cd.first_day) + 1)) AS enough
  FROM ceiling_counts cc JOIN w ON w.id = cc.tid JOIN ceiling_days cd ON cd.tid = cc.tid
  LEFT JOIN ceiling_uncovered u ON u.tid = cc.tid AND u.v = cc.v
),
ceiling AS (
  SELECT cc.tid, cc.v,
         CASE WHEN %(as_of)s < w.opens_at THEN 'not_yet_due'
              WHEN w.period = 'window' AND cc.events > w.lim THEN 'breached'
              WHEN w.period = 'day' AND cc.last_breach IS NOT NULL
                   AND (w.recovery IS NULL OR cl.days < greatest(w.recovery, 1)) THEN 'breached'
              WHEN cc.events = 0 AND NOT cd.covered && daterange(cd.first_day,
                                                                  greatest(cd.last_day0, cc.last_event_day), '[]')
                THEN 'no_data'
              WHEN NOT en.enough THEN 'no_data'
              ELSE 'in_compliance' END AS status
  FROM ceiling_counts cc JOIN w ON w.id = cc.tid JOIN ceiling_days cd ON cd.tid = cc.tid
  LEFT JOIN ceiling_clean cl ON cl.tid = cc.tid AND cl.v = cc.v
  JOIN ceiling_enough en ON en.tid = cc.tid AND en.v = cc.v
),
-- Prohibitions: breached from the first violation, over `recovery` days after the last one. Their reports
-- are read once, by day, for both variants: the last violation, and the days with one no source covers
-- (from the opening to the last day begun), which "in compliance" needs (below).
prohibition_span AS (
  SELECT w.id AS tid, (w.opens_at AT TIME ZONE w.tz)::date AS first_day,
         CASE WHEN least(%(as_of)s, coalesce(w.closes_at, 'infinity')) > w.opens_at
              THEN ((least(%(as_of)s, coalesce(w.closes_at, 'infinity')) - interval '1 microsecond')
                    AT TIME ZONE w.tz)::date
              ELSE (w.opens_at AT TIME ZONE w.tz)::date END AS last_day,
         c.days AS covered
  FROM w JOIN sql_term_coverage c ON c.id = w.id
  WHERE w.kind = 'prohibition'
),
violation_days AS (
  SELECT p.tid, (CASE WHEN p.occ < w.opens_at THEN w.opens_at ELSE p.occ END AT TIME ZONE w.tz)::date AS day,
         max(p.occ) FILTER (WHERE p.counts) AS last0, max(p.occ) AS last1, bool_or(p.counts) AS counted
  FROM pr p JOIN w ON w.id = p.tid
  WHERE p.kind = 'prohibition' AND w.kind = 'prohibition' AND p.affirms
  GROUP BY p.tid, 2
),
violations_by_variant AS (
  SELECT d.tid, max(d.last0) AS last0, max(d.last1) AS last1,
         count(*) FILTER (WHERE d.counted AND d.day BETWEEN s.first_day AND s.last_day
                                AND NOT s.covered @> d.day) AS uncovered0,
         count(*) FILTER (WHERE d.day BETWEEN s.first_day AND s.last_day AND NOT s.covered @> d.day) AS uncovered1
  FROM violation_days d JOIN prohibition_span s ON s.tid = d.tid
  GROUP BY d.tid
),
violations AS (
  SELECT x.tid, v.v, v.last, v.uncovered
  FROM violations_by_variant x
  CROSS JOIN LATERAL (VALUES (0, x.last0, x.uncovered0), (1, x.last1, x.uncovered1)) AS v(v, last, uncovered)
  WHERE v.last IS NOT NULL AND (v.v = 0 OR x.tid IN (SELECT tid FROM disputed))
),
prohibition_kept AS (
  SELECT v.tid, v.v,
         CASE WHEN %(as_of)s < w.opens_at THEN 'not_yet_due'
              WHEN x.tid IS NULL THEN 'in_compliance'
              WHEN w.recovery IS NULL THEN 'breached'
              WHEN least(%(as_of)s, coalesce(w.closes_at, 'infinity'))
                   >= ((((x.last AT TIME ZONE w.tz)::date) + 1 + w.recovery)::timestamp AT TIME ZONE w.tz)
                THEN 'in_compliance'
              ELSE 'breached' END AS status,
         coalesce(x.uncovered, 0) AS uncovered
  FROM variants v JOIN w ON w.id = v.tid LEFT JOIN violations x ON x.tid = v.tid AND x.v = v.v
  WHERE w.kind = 'prohibition'
),
-- In compliance only with enough evidence, as for a ceiling: the days from the opening to the last one begun,
-- covered or with a violation reported in them.
prohibition AS (
  SELECT k.tid, k.v,
         CASE WHEN k.status <> 'in_compliance' THEN k.status
              WHEN cardinality(w.cats) > 0 AND NOT EXISTS (SELECT 1 FROM sql_reported r WHERE r.n = ANY (w.cats))
                THEN 'no_data'
              WHEN coalesce(w.share, 0) > 0 AND 100 * (
                     (SELECT coalesce(sum(upper(r) - lower(r)), 0)
                      FROM unnest(s.covered * datemultirange(daterange(s.first_day, s.last_day, '[]'))) r)
                     + k.uncovered)
                   < w.share * ((s.last_day - s.first_day) + 1)
                THEN 'no_data'
              ELSE 'in_compliance' END AS status
  FROM prohibition_kept k JOIN w ON w.id = k.tid JOIN prohibition_span s ON s.tid = k.tid
),
judged AS (
  SELECT tid, v, status, since FROM deadline
  UNION ALL SELECT tid, v, status, NULL FROM target
  UNION ALL SELECT tid, v, status, NULL FROM ceiling
  UNION ALL SELECT tid, v, status, NULL FROM prohibition
)
SELECT s.tid,
       CASE WHEN l.status IS NOT NULL AND l.status <> s.status THEN 'disputed' ELSE s.status END,
       CASE WHEN l.status IS NOT NULL AND l.status <> s.status THEN NULL ELSE s.since END
FROM judged s LEFT JOIN judged l ON l.tid = s.tid AND l.v = 1
WHERE s.v = 0
"""

REST = """
SELECT t.id,
       coalesce(v.status, CASE WHEN NOT t.tracked THEN 'not_tracked'
                               WHEN t.anchor = 'signing' AND t.signed_on IS NULL THEN 'awaiting_signature'
                               ELSE 'awaiting_anchor' END)
FROM sql_terms t LEFT JOIN sql_verdicts v ON v.id = t.id
"""


# The statements that take the time, in order, and what each does (the benchmark reports their seconds).
MAIN = {
    "REPORTS": "the reports some rule in force can count, folded, with their standing at the cutoff",
    "EVIDENCE": "each of them once per category and actor it answers to",
    "PAIRS": "which report counts for which commitment (ids): hash joins of the rules' selectors with them",
    "VARIANTS": "the commitments with a disputed report or a deadline's denial, judged a second time",
    "JUDGE": "the statuses, aggregated straight from the pairs, kind by kind",
}

# What the planner is told for a statement: the pairs' joins probe a hash of the few selectors with every
# report, where the estimates (temporary tables, skewed keys) would have it sort millions of rows to merge them.
PLANNER = {"PAIRS": {"enable_mergejoin": "off"}}


def statuses(as_of, known_at=None, *, due_soon_days=7, work_mem="256MB", explain=None, timings=None):
    """{commitment id: status} for every commitment in force, computed by PostgreSQL alone.

    `timings`, a dict, receives the seconds each statement took (the main ones by name, as in `MAIN`; the
    others by their first words), and under "<name> (rows)" the rows it wrote.
    `explain`: True prints each main statement's `EXPLAIN ANALYZE`; a list receives (name, plan lines).
    """
    from django.db import connection, transaction

    params = {"as_of": as_of, "known_at": known_at or as_of, "soon": due_soon_days}
    with transaction.atomic(), connection.cursor() as raw:
        cursor = _Timed(raw, timings)

        def run(name, statement, params=None):
            settings = PLANNER.get(name, {})
            for setting, value in settings.items():
                cursor.execute(f"SET LOCAL {setting} = {value}")
            if explain is True or isinstance(explain, list):
                query = statement.split(" AS\n", 1)[1] if "CREATE TEMPORARY TABLE" in statement else \
                    statement.replace("INSERT INTO sql_verdicts", "")
                cursor.execute("EXPLAIN ANALYZE " + query, params)
                plan = [r[0] for r in cursor.fetchall()]
                if isinstance(explain, list):
                    explain.append((name, plan))
                else:
                    print(f"-- {name}", *plan, sep="\n")
            cursor.execute(statement, params, name=name)
            for setting in settings:
                cursor.execute(f"RESET {setting}")

        # The joins and sorts are large; a hand-tuned query would be given the memory to do them.
        cursor.execute(f"SET LOCAL work_mem = '{work_mem}'")
        # Compiling the plans (JIT) cost about a second a statement, more than it saved.
        cursor.execute("SET LOCAL jit = off")
        cursor.execute(NORM)
        for name, statement in (("CATEGORY_NAMES", CATEGORY_NAMES), ("TERMS", TERMS), ("REPORTED", REPORTED),
                                ("REPORTS", REPORTS), ("EVIDENCE", EVIDENCE), ("COVERAGE", COVERAGE),
                                ("TERM_COVERAGE", TERM_COVERAGE)):
            run(name, statement, params)
        cursor.execute("ANALYZE sql_reports")
        cursor.execute("ANALYZE sql_evidence")
        for statement in ROUNDS:
            cursor.execute(statement)
        round_ = 0
        while True:
            for name, statement, table in (("WINDOWS", WINDOWS, "sql_windows"),
                                           ("SELECTORS", SELECTORS, "sql_selectors"),
                                           ("PAIRS", PAIRS, "sql_pairs"), ("VARIANTS", VARIANTS, "sql_variants")):
                cursor.execute(f"DROP TABLE IF EXISTS {table}")
                run(name, statement, {**params, "round": round_})
                cursor.execute(f"ANALYZE {table}")
            run("JUDGE", JUDGE, {**params, "round": round_})
            round_ += 1
            cursor.execute(NEXT_ROUND, {**params, "round": round_})
            if not cursor.rowcount:
                break
        cursor.execute(REST)
        result = dict(cursor.fetchall())
        cursor.execute("DROP FUNCTION pg_temp.norm(text)")
    return result


class _Timed:
    def __init__(self, cursor, timings):
        self.cursor, self.timings = cursor, timings

    def execute(self, sql, params=None, name=None):
        import time

        started = time.perf_counter()
        self.cursor.execute(sql, params)
        if self.timings is not None:
            key = name or " ".join(sql.split()[:4])
            self.timings[key] = self.timings.get(key, 0) + time.perf_counter() - started
            if self.cursor.rowcount and self.cursor.rowcount > 0:
                self.timings[key + " (rows)"] = self.timings.get(key + " (rows)", 0) + self.cursor.rowcount

    def __getattr__(self, name):
        return getattr(self.cursor, name)
