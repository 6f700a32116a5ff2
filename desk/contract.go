package desk

// The messages on the riskwatch.alerts (AlertEvent) and riskwatch.cases
// (Event) topics are contracts with other systems, documented in
// deploy/contracts/. Each message carries its contract's version in the
// header HeaderContractVersion. A field added is compatible and keeps the
// version; a field removed, renamed or changed in meaning raises it. Each
// message carries its event's number in the installation's outbox in the
// header HeaderEventID: a redelivered event has the same, so a consumer
// that keeps the ids it has handled handles each event once.
const (
	HeaderContractVersion = "contract-version"
	ContractVersion       = "1"
	HeaderEventID         = "event-id"
)
