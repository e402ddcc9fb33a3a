package sqlite

import (
	"strings"

	msqlite "modernc.org/sqlite"
)

// The SQL a guest may not run is refused by an authorizer SQLite calls
// while it compiles each statement (sqlite3_set_authorizer, which
// modernc.org/sqlite exposes), so it sees what SQLite parsed, not what a
// keyword scan guesses. Beneath it, SQLITE_LIMIT_ATTACHED is 0 on every
// connection, so no ATTACH could succeed even past the authorizer, and the
// driver does not enable extension loading. VACUUM, which the authorizer
// is not asked about, is refused by refuseVacuum.

// pragmas are the PRAGMAs a guest may run: about its own database's
// schema and contents, none naming a file or changing a bound this module
// sets (cache_size, temp_store, mmap_size, max_page_count,
// hard_heap_limit, query_only, temp_store_directory, data_store_directory
// and the rest are refused).
var pragmas = map[string]bool{
	"application_id": true, "auto_vacuum": true, "collation_list": true,
	"data_version": true, "database_list": true, "defer_foreign_keys": true,
	"encoding": true, "foreign_key_check": true, "foreign_key_list": true,
	"foreign_keys": true, "freelist_count": true, "function_list": true,
	"incremental_vacuum": true, "index_info": true, "index_list": true,
	"index_xinfo": true, "integrity_check": true, "journal_mode": true,
	"optimize": true, "page_count": true, "page_size": true,
	"quick_check": true, "recursive_triggers": true, "secure_delete": true,
	"synchronous": true, "table_info": true, "table_list": true,
	"table_xinfo": true, "user_version": true, "wal_checkpoint": true,
}

// vtabModules are the virtual table modules a guest may create tables of:
// full-text search and R-trees, which keep their data in the database.
var vtabModules = map[string]bool{"fts3": true, "fts4": true, "fts5": true, "rtree": true}

// authorize is the authorizer every guest connection has.
func authorize(action msqlite.AuthorizerActionCode, arg1, arg2, dbName, _ string) msqlite.AuthorizerReturnCode {
	switch action {
	case msqlite.AuthAttach, msqlite.AuthDetach:
		return msqlite.AuthorizerDeny
	case msqlite.AuthPragma:
		if !pragmas[strings.ToLower(arg1)] || dbName != "" && !strings.EqualFold(dbName, "main") {
			return msqlite.AuthorizerDeny
		}
	case msqlite.AuthFunction:
		switch strings.ToLower(arg2) {
		case "load_extension", "fts3_tokenizer":
			return msqlite.AuthorizerDeny
		case "json_group_array", "json_group_object", "jsonb_group_array", "jsonb_group_object":
			// SQLite builds their result without checking
			// SQLITE_LIMIT_LENGTH until the last row: one call held
			// 200 MiB at 100,000,000 steps. group_concat, which checks,
			// builds the same arrays: '[' || group_concat(json_quote(x)) || ']'.
			return msqlite.AuthorizerDeny
		}
	case msqlite.AuthRead:
		// Table-valued pragmas (SELECT * FROM pragma_x(...)) run the
		// pragma; they obey the same list.
		if name, ok := strings.CutPrefix(strings.ToLower(arg1), "pragma_"); ok && !pragmas[name] {
			return msqlite.AuthorizerDeny
		}
	case msqlite.AuthCreateVTable:
		if !vtabModules[strings.ToLower(arg2)] || strings.EqualFold(dbName, "temp") {
			return msqlite.AuthorizerDeny
		}
	case msqlite.AuthCreateTempTable, msqlite.AuthCreateTempIndex:
		// The temp database lives in a file in the system's temporary
		// directory, outside the preopened ones, and outside any bound.
		return msqlite.AuthorizerDeny
	case msqlite.AuthCreateTable, msqlite.AuthCreateIndex:
		if strings.EqualFold(dbName, "temp") { // CREATE TABLE temp.t comes this way
			return msqlite.AuthorizerDeny
		}
	}
	return msqlite.AuthorizerOK
}

// refuseVacuum reports whether sql holds a VACUUM statement. SQLite does
// not ask the authorizer about VACUUM, and VACUUM INTO writes a new file
// wherever it is told, so any statement whose first keyword is VACUUM is
// refused (plain VACUUM too: it rebuilds through a temporary database
// outside the preopened directory). The scan skips comments, string
// literals and quoted identifiers as SQLite's tokenizer does; a statement
// it cannot make sense of is refused too, on the side of caution.
func refuseVacuum(sql string) bool {
	first := true // at the start of a statement
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return false // an unterminated comment ends the SQL
			}
			i += end + 4
		case c == ';':
			first = true
			i++
		case c == '\'' || c == '"' || c == '`':
			i = skipQuoted(sql, i, c)
			first = false
		case c == '[':
			end := strings.IndexByte(sql[i:], ']')
			if end < 0 {
				return false
			}
			i += end + 1
			first = false
		case isIdent(c):
			j := i
			for j < len(sql) && isIdent(sql[j]) {
				j++
			}
			if first && strings.EqualFold(sql[i:j], "vacuum") {
				return true
			}
			first = false
			i = j
		default:
			first = false
			i++
		}
	}
	return false
}

// skipQuoted returns the index after the quoted token starting at i,
// where a doubled quote stands for itself.
func skipQuoted(s string, i int, q byte) int {
	for i++; i < len(s); i++ {
		if s[i] == q {
			if i+1 < len(s) && s[i+1] == q {
				i++
				continue
			}
			return i + 1
		}
	}
	return len(s)
}

// isIdent reports whether c may be part of an SQL keyword or identifier
// (bytes from 0x80 up are, in SQLite's tokenizer).
func isIdent(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '$' || c >= 0x80
}
