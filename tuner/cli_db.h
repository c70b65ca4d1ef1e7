/*
 * cli_db.h - the fpx-tune subcommands that manage the tuning database
 * without a GPU: list, show, export, import, merge, clear, and compile (which
 * fills the database's kernel binary store for an architecture through
 * NVRTC).
 *
 * Each takes --db PATH (default: the path of fpx__cache_default_path, i.e.
 * $FPX_CACHE_DIR/fpx.db, $XDG_CACHE_HOME/fpx/fpx.db or ~/.cache/fpx/fpx.db).
 * Every run function takes argv[0] = the subcommand name and returns an exit
 * code of cli.h: 0 success, 1 failure while running (the library's message
 * printed), 2 bad arguments (the argument named), including an input file
 * that cannot be read or is malformed.
 */
#ifndef FPX_TUNER_CLI_DB_H
#define FPX_TUNER_CLI_DB_H

#include <stdio.h>

int fpx__cli_list(int argc, char **argv);
void fpx__cli_list_usage(FILE *out);
int fpx__cli_show(int argc, char **argv);
void fpx__cli_show_usage(FILE *out);
int fpx__cli_export(int argc, char **argv);
void fpx__cli_export_usage(FILE *out);
int fpx__cli_import(int argc, char **argv);
void fpx__cli_import_usage(FILE *out);
int fpx__cli_merge(int argc, char **argv);
void fpx__cli_merge_usage(FILE *out);
int fpx__cli_clear(int argc, char **argv);
void fpx__cli_clear_usage(FILE *out);
int fpx__cli_compile(int argc, char **argv);
void fpx__cli_compile_usage(FILE *out);

#endif
