/* The exported model on rows read from standard input, one prediction line per row.
 *
 * Input: one row per line, the model's inputs as numbers separated by commas, in the order
 * of signature.json (an empty field or "nan" is a missing value; a category is its position
 * in its input's category list). Lines starting with '#' are skipped.
 * Output: per row, the model's prediction(s) with 17 significant digits: the value
 * (regression), the positive class's probability (binary), or one probability per class
 * (multiclass), as LightGBM's Booster.predict gives them.
 *
 *   make && ./example < rows.csv
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "header.h"

#define MAX_LINE (1 << 20)

/* The field at *cursor (up to the next comma or the line's end): sets *entry (missing when
 * empty or nan, else the value) and leaves the cursor on the comma or line end after it;
 * 0 when the field is not a number. */
static int read_field(char** cursor, union Entry* entry) {
  char* start = *cursor;
  char* end = start + strcspn(start, ",\r\n");
  char* stop = end;
  *cursor = end;
  while (start < stop && (*start == ' ' || *start == '\t')) ++start;
  while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t')) --stop;
  if (start == stop) {
    entry->missing = -1;
    return 1;
  }
  char* parsed;
  double value = strtod(start, &parsed);
  if (parsed != stop) return 0;
  if (isnan(value)) {
    entry->missing = -1;
  } else {
    entry->fvalue = value;
  }
  return 1;
}

int main(void) {
  const int32_t n_feature = get_num_feature();
  int32_t n_class[N_TARGET];
  get_num_class(n_class);
  const int32_t n_out = N_TARGET * MAX_N_CLASS;
  union Entry* row = malloc(sizeof(union Entry) * (size_t)n_feature);
  double* out = malloc(sizeof(double) * (size_t)n_out);
  char* line = malloc(MAX_LINE);
  if (!row || !out || !line) {
    fprintf(stderr, "example: out of memory\n");
    return 2;
  }
  long number = 0;
  while (fgets(line, MAX_LINE, stdin)) {
    ++number;
    if (line[0] == '#' || line[0] == '\n' || line[0] == '\r') continue;
    if (!strchr(line, '\n') && !feof(stdin)) {
      fprintf(stderr, "example: line %ld is longer than %d bytes\n", number, MAX_LINE);
      return 1;
    }
    char* cursor = line;
    for (int32_t j = 0; j < n_feature; ++j) {
      if (j > 0) {
        if (*cursor != ',') {
          fprintf(stderr, "example: line %ld has %d fields; the model takes %d\n", number,
                  (int)j, (int)n_feature);
          return 1;
        }
        ++cursor;
      }
      if (!read_field(&cursor, &row[j])) {
        fprintf(stderr, "example: line %ld, field %d is not a number\n", number, (int)j + 1);
        return 1;
      }
    }
    if (*cursor == ',') {
      fprintf(stderr, "example: line %ld has more than %d fields\n", number, (int)n_feature);
      return 1;
    }
    memset(out, 0, sizeof(double) * (size_t)n_out);
    predict(row, 0, out);
    for (int32_t k = 0; k < n_class[0]; ++k) printf(k ? ",%.17g" : "%.17g", out[k]);
    printf("\n");
  }
  free(line);
  free(out);
  free(row);
  return 0;
}
