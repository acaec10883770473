package gohere

import "strings"

// labelValueEscaper escapes what ends or escapes a double-quoted PromQL
// string; the rest of a value is literal there.
var labelValueEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`)

// EscapeLabelValue escapes v for the inside of a double-quoted PromQL
// string ("…" or =~"…"). Query templates get every value through it:
// names are restricted at the API (ValidateName), but a value that slipped
// past, or a config's vars, must never change a query's structure
// (env `}[1m]))or(vector(1))#` after service `x\`, issue 13).
func EscapeLabelValue(v string) string { return labelValueEscaper.Replace(v) }
