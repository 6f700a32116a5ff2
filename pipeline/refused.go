package pipeline

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/column"
	"github.com/ClickHouse/clickhouse-go/v2/lib/proto"
)

// refusedCodes are the ClickHouse exceptions about the rows of an insert:
// the same rows meet them again however often they are sent. Every other
// exception is about the server (overloaded, out of memory, too many parts
// while merges catch up, read-only, a table or column missing while a
// migration runs) and passes.
var refusedCodes = map[int32]string{
	6:   "CANNOT_PARSE_TEXT",
	27:  "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
	38:  "CANNOT_PARSE_DATE",
	41:  "CANNOT_PARSE_DATETIME",
	53:  "TYPE_MISMATCH",
	69:  "ARGUMENT_OUT_OF_BOUND",
	70:  "CANNOT_CONVERT_TYPE",
	72:  "CANNOT_PARSE_NUMBER",
	117: "INCORRECT_DATA",
	128: "TOO_LARGE_ARRAY_SIZE",
	131: "TOO_LARGE_STRING_SIZE",
	190: "SIZES_OF_ARRAYS_DOESNT_MATCH",
	321: "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
	349: "CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN",
	376: "CANNOT_PARSE_UUID",
	395: "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO", // a row check in the schema
	407: "DECIMAL_OVERFLOW",
	441: "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING",
	467: "CANNOT_PARSE_BOOL",
	469: "VIOLATED_CONSTRAINT",
}

// tooManyParts is TOO_MANY_PARTS, the code of two errors: "Too many parts"
// (merges are behind: wait) and "Too many partitions for single INSERT
// block" (the rows span too many months: they must be split).
const tooManyParts = 252

// refused reports whether err says that the rows of an insert cannot be
// stored as they are: a ClickHouse exception about the data, or
// clickhouse-go refusing to convert a value before anything was sent.
// Anything else (connection refused or reset, EOF, timeouts, a cancelled or
// expired context, an exception about the server) is not: the same rows may
// be stored by a retry.
func refused(err error) bool {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		if ex.Code == tooManyParts {
			return strings.Contains(ex.Message, "partitions for single INSERT block")
		}
		_, ok := refusedCodes[ex.Code]
		return ok
	}
	var blockErr *proto.BlockError
	var convErr *column.ColumnConverterError
	var colErr *column.Error
	return errors.As(err, &blockErr) || errors.As(err, &convErr) || errors.As(err, &colErr)
}

// refusal is the reason a refused row is quarantined with: the server's
// code and message, or the client's conversion error. It never holds the
// stack trace of the exception.
func refusal(err error) string {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		return fmt.Sprintf("refused by clickhouse: code %d: %s", ex.Code, ex.Message)
	}
	var blockErr *proto.BlockError
	if errors.As(err, &blockErr) {
		return "refused by the clickhouse client: " + blockErr.Error()
	}
	return "refused by the clickhouse client: " + err.Error()
}

// exceptionCode is the ClickHouse exception code in err, or 0: what the log
// says of a refused row (the message could quote the row).
func exceptionCode(err error) int32 {
	var ex *clickhouse.Exception
	if errors.As(err, &ex) {
		return ex.Code
	}
	return 0
}
