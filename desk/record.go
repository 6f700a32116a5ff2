package desk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	risk "riskwatch"
	"riskwatch/desk/robot"
)

// AlertEvent is the JSON of an alert on the riskwatch.alerts topic, keyed
// by the alert's scope so that one scope's alerts stay in order. Key is the
// alert of the run (its scope and window), which may have joined an open
// alert of an earlier window.
type AlertEvent struct {
	Key         string             `json:"key"`
	ScopeKey    string             `json:"scope_key"`
	Detector    string             `json:"detector"`
	Level       risk.Level         `json:"level"`
	Labels      risk.Labels        `json:"labels"`
	WindowStart time.Time          `json:"window_start"`
	WindowEnd   time.Time          `json:"window_end"`
	Summary     string             `json:"summary"`
	Numbers     map[string]float64 `json:"numbers"`
	Evidence    []risk.Evidence    `json:"evidence"` // the first MaxEvidence records of the run
	// EvidenceCount is how many records the run named.
	EvidenceCount int `json:"evidence_count"`
}

// MaxEvidence is how many evidence records an alert lists; it counts them
// all (Alert.EvidenceCount). A surge of thousands of calls stays readable,
// and every read of the alert stays small.
const MaxEvidence = 200

// Record stores the alerts of a detector's run. An alert whose scope has an
// open alert joins it: its evidence and words are added, its level may
// rise, its figures and summary become the latest. Otherwise it opens a new
// alert that links the last closed one of its scope. Recording the same
// alerts again changes nothing; two processes recording at once still leave
// one open alert per scope. Each alert is stored in its own transaction with
// its event for the riskwatch.alerts topic, which the Sender publishes: an
// alert stored is an alert published, once per run's alert. It returns how
// many alerts were opened; on an error, those before the failing one are
// stored.
//
// A reminder (risk.Alert.Reminder) is not stored as an alert: see remind.
func (s *Review) Record(ctx context.Context, alerts []risk.Alert) (opened int, err error) {
	var desks []Desk
	for _, a := range alerts {
		if a.Reminder {
			if desks == nil {
				if desks, err = s.dir.Desks(ctx); err != nil {
					return opened, err
				}
			}
			if err := s.remind(ctx, a, desks); err != nil {
				return opened, fmt.Errorf("remind %s: %w", a.Key(), err)
			}
			continue
		}
		var created bool
		for attempt := 0; ; attempt++ {
			created, err = s.record(ctx, a)
			if attempt == 0 && isUniqueViolation(err) {
				continue // another process opened the scope's alert first: join it
			}
			break
		}
		if err != nil {
			return opened, fmt.Errorf("record alert %s: %w", a.Key(), err)
		}
		if created {
			opened++
		}
	}
	return opened, nil
}

// remind tells the desk that routing picks for a reminder's matter, through
// its robots, once per matter and line (将到期, then late, then seven days
// late) however often it is recorded. Nothing enters the review queue or the
// riskwatch.alerts topic; with no desk for the place, nobody here is told
// (the upstream system's own supervision remains).
func (s *Review) remind(ctx context.Context, a risk.Alert, desks []Desk) error {
	route, err := s.routing.Route(Scope{a.Detector(), a.Level, a.Where()}, desks)
	if err != nil {
		return nil
	}
	msg := robot.Message{Title: "提醒：" + a.Summary, Markdown: fmt.Sprintf("#### 办理提醒\n%s\n\n- 期限提醒由上游系统督办，本条不进入预警审核队列", a.Summary)}
	return s.write(ctx, "system", func(c *change) error {
		return c.notify(ctx, route.Desk, "reminder/"+a.ScopeKey()+"/"+string(a.Level), false, msg)
	})
}

func (s *Review) record(ctx context.Context, a risk.Alert) (created bool, err error) {
	err = s.write(ctx, "system", func(c *change) error {
		var key string
		var level risk.Level
		var evidence []byte
		var words []string
		var seen []int64
		lookup := func() error {
			return c.tx.QueryRow(ctx, `SELECT key, level, evidence, words, evidence_seen FROM alerts
				WHERE scope_key = $1 AND status = 'open' FOR UPDATE`, a.ScopeKey()).Scan(&key, &level, &evidence, &words, &seen)
		}
		err := lookup()
		if errors.Is(err, pgx.ErrNoRows) {
			if created, err = insertAlert(ctx, c.tx, a); err != nil {
				return err
			}
			if created {
				return c.publishAlert(ctx, a)
			}
			// The key exists: another process has just opened this very
			// alert (join it), or it was closed (a re-run: nothing to do).
			err = lookup()
			if errors.Is(err, pgx.ErrNoRows) {
				return nil
			}
		}
		if err != nil {
			return err
		}
		var had []risk.Evidence
		if err := json.Unmarshal(evidence, &had); err != nil {
			return fmt.Errorf("evidence of %s: %w", key, err)
		}
		all := union(had, a.Evidence)
		ev, _ := json.Marshal(all[:min(len(all), MaxEvidence)])
		// Alerts stored before fingerprints carry their list only.
		seen = fingerprints(seen, had)
		seen = fingerprints(seen, a.Evidence)
		nums, _ := json.Marshal(a.Numbers)
		if _, err := c.tx.Exec(ctx, `UPDATE alerts SET level = $2, evidence = $3, words = $4, numbers = $5, summary = $6,
			last_seen = greatest(last_seen, $7), window_end = greatest(window_end, $8), evidence_seen = $9, evidence_count = $10,
			updated_at = now() WHERE key = $1`,
			key, level.Max(a.Level), ev, union(words, a.Words), nums, a.Summary, a.Seen, a.Window.End, seen, len(seen)); err != nil {
			return err
		}
		return c.publishAlert(ctx, a)
	})
	return created, err
}

func insertAlert(ctx context.Context, tx pgx.Tx, a risk.Alert) (bool, error) {
	var previous *string
	err := tx.QueryRow(ctx, `SELECT key FROM alerts WHERE scope_key = $1 ORDER BY created_at DESC LIMIT 1`, a.ScopeKey()).Scan(&previous)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, err
	}
	labels, _ := json.Marshal(a.Labels)
	nums, _ := json.Marshal(a.Numbers)
	all := union(a.Evidence, nil)
	ev, _ := json.Marshal(all[:min(len(all), MaxEvidence)])
	seen := fingerprints(nil, all)
	words := a.Words
	if words == nil {
		words = []string{}
	}
	tag, err := tx.Exec(ctx, `INSERT INTO alerts (key, scope_key, detector, level, region, category, subject, person, labels,
			window_start, window_end, first_seen, last_seen, summary, numbers, words, evidence, previous_key, evidence_seen, evidence_count)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15, $16, $17, $18, $19)
		ON CONFLICT (key) DO NOTHING`,
		a.Key(), a.ScopeKey(), a.Detector(), a.Level, a.Where(), a.What(), a.Labels["subject"], a.Labels["person"], labels,
		a.Window.Start, a.Window.End, a.Seen, a.Summary, nums, words, ev, previous, seen, len(seen))
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
}

// publishAlert queues the run's alert for the riskwatch.alerts topic, once
// per run's alert (its scope and window): a re-run of the window queues
// nothing new.
func (c *change) publishAlert(ctx context.Context, a risk.Alert) error {
	payload, err := json.Marshal(AlertEvent{Key: a.Key(), ScopeKey: a.ScopeKey(), Detector: a.Detector(), Level: a.Level, Labels: a.Labels,
		WindowStart: a.Window.Start, WindowEnd: a.Window.End, Summary: a.Summary, Numbers: a.Numbers,
		Evidence: a.Evidence[:min(len(a.Evidence), MaxEvidence)], EvidenceCount: len(a.Evidence)})
	if err != nil {
		return fmt.Errorf("encode alert %s: %w", a.Key(), err)
	}
	if err := c.queue(ctx, "alert/"+a.Key(), channelKafka, eventRef{Topic: TopicAlerts, Key: a.ScopeKey()}, payload, c.at); err != nil {
		return fmt.Errorf("queue alert %s: %w", a.Key(), err)
	}
	return nil
}

// fingerprints adds to the sorted set seen the 64-bit FNV-1a fingerprint of
// each record's source/id, and returns the set, sorted and without
// duplicates.
func fingerprints(seen []int64, records []risk.Evidence) []int64 {
	for _, e := range records {
		h := fnv.New64a()
		h.Write([]byte(string(e.Source) + "/" + e.ID))
		seen = append(seen, int64(h.Sum64()))
	}
	slices.Sort(seen)
	return slices.Compact(seen)
}

// union returns a followed by the elements of b it lacks.
func union[T comparable](a, b []T) []T {
	seen := map[T]bool{}
	out := make([]T, 0, len(a)+len(b))
	for _, x := range slices.Concat(a, b) {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}
