// Package profile holds the pattern language of SEMS SBC call profiles and
// the selection of a call profile per INVITE, so that operators moving from
// SEMS keep writing $rU, $fh, $H(P-Foo), $M($si=>ipmap) and $_l(...) as before.
//
// Patterns are compiled once when profiles load (errors name the profile, the
// option and the column) and expanded per call against a Request, a plain
// value built once per INVITE from a *sip.Request.
//
// The semantics follow SEMS's own sources (sems-server/sems on GitHub), read
// while writing this package:
//   - doc/Readme.sbc.txt, "Replacement patterns", "Regex mappings" and
//     "SBC Profiles" (the active_profile list, first non-empty match wins);
//   - apps/sbc/ParamReplacer.cpp, replaceParameters and replaceParsedParam
//     (which letters exist and what each one yields);
//   - core/AmUriParser.cpp, parse_uri and parse_contact (how a header value
//     is split into user, host, port, params, headers and display name);
//   - core/AmUtils.cpp, get_header_keyvalue (P-App-Param), skip_to_end_of_brackets,
//     read_regex_mapping and run_regex_mapping (map files and \1 references);
//   - apps/sbc/SBC.cpp, getActiveProfileMatch (profile selection).
//
// Where SEMS only logs a warning at run time (an unknown letter, an unclosed
// bracket), Tollgate refuses the pattern at load time instead: a typo in a
// profile must not silently produce empty R-URIs on live traffic.
package profile
