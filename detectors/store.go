package detectors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

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
		var key string
		var level risk.Level
		var evidence []byte
		var words []string
		lookup := func() error {
			return tx.QueryRow(ctx, `SELECT key, level, evidence, words FROM alerts
				WHERE scope_key = $1 AND status = 'open' FOR UPDATE`, a.ScopeKey()).Scan(&key, &level, &evidence, &words)
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
		var had []risk.Evidence
		if err := json.Unmarshal(evidence, &had); err != nil {
			return fmt.Errorf("evidence of %s: %w", key, err)
		}
		ev, _ := json.Marshal(union(had, a.Evidence))
		nums, _ := json.Marshal(a.Numbers)
		_, err = tx.Exec(ctx, `UPDATE alerts SET level = $2, evidence = $3, words = $4, numbers = $5, summary = $6,
			last_seen = greatest(last_seen, $7), window_end = greatest(window_end, $8), updated_at = now() WHERE key = $1`,
			key, level.Max(a.Level), ev, union(words, a.Words), nums, a.Summary, a.Seen, a.Window.End)
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
