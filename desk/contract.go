package desk

// The messages on the riskwatch.alerts (AlertEvent) and riskwatch.cases
// (Event) topics are contracts with other systems, documented in
// deploy/contracts/. Each message carries its contract's version in the
// header HeaderContractVersion. A field added is compatible and keeps the
// version; a field removed, renamed or changed in meaning raises it.
const (
	HeaderContractVersion = "contract-version"
	ContractVersion       = "1"
)
