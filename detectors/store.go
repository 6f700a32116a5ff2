package detectors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	risk "riskwatch"
)

// AlertStore keeps alerts and their workflow state in PostgreSQL.
type AlertStore struct {
	pool *pgxpool.Pool
}

// NewAlertStore returns a store on a migrated database.
func NewAlertStore(pool *pgxpool.Pool) *AlertStore { return &AlertStore{pool: pool} }

// Stored is an alert as the store keeps it.
type Stored struct {
	Key         string             `json:"key"`
	Detector    string             `json:"detector"`
	Level       risk.Level         `json:"level"`
	Status      string             `json:"status"`
	Region      string             `json:"region"`
	Category    string             `json:"category"`
	Subject     string             `json:"subject,omitempty"`
	Person      string             `json:"person,omitempty"`
	WindowStart time.Time          `json:"window_start"`
	WindowEnd   time.Time          `json:"window_end"`
	FirstSeen   time.Time          `json:"first_seen"`
	LastSeen    time.Time          `json:"last_seen"`
	Summary     string             `json:"summary"`
	Numbers     map[string]float64 `json:"numbers"`
	Words       []string           `json:"words"`
	Evidence    []risk.Evidence    `json:"evidence"`
	PreviousKey string             `json:"previous_key,omitempty"`
	CreatedAt   time.Time          `json:"created_at"`
}

// Record stores the alerts of one run. An alert whose scope has an open
// alert joins it: its evidence and words are added, its level may rise, its
// figures and summary become the latest. Otherwise it opens a new alert
// that links the last closed one of its scope. Recording the same alerts
// again changes nothing; two processes recording at once still leave one
// open alert per scope. It returns how many alerts were opened.
func (s *AlertStore) Record(ctx context.Context, alerts []risk.Alert) (opened int, err error) {
	for _, a := range alerts {
		var created bool
		for attempt := 0; ; attempt++ {
			created, err = s.record(ctx, a)
			var pgErr *pgconn.PgError
			if attempt == 0 && errors.As(err, &pgErr) && pgErr.Code == "23505" {
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

func (s *AlertStore) record(ctx context.Context, a risk.Alert) (created bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var open Stored
		var evidence []byte
		lookup := func() error {
			return tx.QueryRow(ctx, `SELECT key, level, evidence, words, last_seen, window_end FROM alerts
				WHERE scope_key = $1 AND status = 'open' FOR UPDATE`, a.ScopeKey()).
				Scan(&open.Key, &open.Level, &evidence, &open.Words, &open.LastSeen, &open.WindowEnd)
		}
		err := lookup()
		if errors.Is(err, pgx.ErrNoRows) {
			if created, err = insert(ctx, tx, a); err != nil || created {
				return err
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
		if err := json.Unmarshal(evidence, &open.Evidence); err != nil {
			return fmt.Errorf("evidence of %s: %w", open.Key, err)
		}
		merged := union(open.Evidence, a.Evidence)
		words := union(open.Words, a.Words)
		ev, _ := json.Marshal(merged)
		nums, _ := json.Marshal(a.Numbers)
		_, err = tx.Exec(ctx, `UPDATE alerts SET level = $2, evidence = $3, words = $4, numbers = $5, summary = $6,
			last_seen = greatest(last_seen, $7), window_end = greatest(window_end, $8), updated_at = now() WHERE key = $1`,
			open.Key, open.Level.Max(a.Level), ev, words, nums, a.Summary, a.Seen, a.Window.End)
		return err
	})
	return created, err
}

func insert(ctx context.Context, tx pgx.Tx, a risk.Alert) (bool, error) {
	var previous *string
	err := tx.QueryRow(ctx, `SELECT key FROM alerts WHERE scope_key = $1 ORDER BY created_at DESC LIMIT 1`, a.ScopeKey()).Scan(&previous)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, err
	}
	labels, _ := json.Marshal(a.Labels)
	nums, _ := json.Marshal(a.Numbers)
	ev, _ := json.Marshal(a.Evidence)
	words := a.Words
	if words == nil {
		words = []string{}
	}
	tag, err := tx.Exec(ctx, `INSERT INTO alerts (key, scope_key, detector, level, region, category, subject, person, labels,
			window_start, window_end, first_seen, last_seen, summary, numbers, words, evidence, previous_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15, $16, $17)
		ON CONFLICT (key) DO NOTHING`,
		a.Key(), a.ScopeKey(), a.Detector(), a.Level, a.Where(), a.Labels["category"], a.Labels["subject"], a.Labels["person"], labels,
		a.Window.Start, a.Window.End, a.Seen, a.Summary, nums, words, ev, previous)
	if err != nil {
		return false, err
	}
	return tag.RowsAffected() == 1, nil
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

// Get returns one alert; the error wraps risk.ErrNotFound when there is none.
func (s *AlertStore) Get(ctx context.Context, key string) (Stored, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+storedColumns+` FROM alerts WHERE key = $1`, key)
	if err != nil {
		return Stored{}, fmt.Errorf("get alert: %w", err)
	}
	a, err := pgx.CollectExactlyOneRow(rows, scanStored)
	if errors.Is(err, pgx.ErrNoRows) {
		return Stored{}, fmt.Errorf("alert %s: %w", key, risk.ErrNotFound)
	}
	return a, err
}

const storedColumns = `key, detector, level, status, region, category, subject, person, window_start, window_end,
	first_seen, last_seen, summary, numbers, words, evidence, coalesce(previous_key, ''), created_at`

func scanStored(row pgx.CollectableRow) (Stored, error) {
	var a Stored
	var nums, ev []byte
	err := row.Scan(&a.Key, &a.Detector, &a.Level, &a.Status, &a.Region, &a.Category, &a.Subject, &a.Person,
		&a.WindowStart, &a.WindowEnd, &a.FirstSeen, &a.LastSeen, &a.Summary, &nums, &a.Words, &ev, &a.PreviousKey, &a.CreatedAt)
	if err != nil {
		return a, err
	}
	if err := json.Unmarshal(nums, &a.Numbers); err != nil {
		return a, err
	}
	return a, json.Unmarshal(ev, &a.Evidence)
}
