// Package detectors runs the early-warning detectors over the events in
// ClickHouse on their schedules, and hands the alerts they raise to a
// recorder (desk.Review keeps them, with their workflow state and their
// messages for other systems, in PostgreSQL); the run ledger is its own. A
// detector never reads the clock: it is given its event-time window, so a
// missed window can be run later with the same result.
package detectors
