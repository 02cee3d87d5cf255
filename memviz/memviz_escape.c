/* See memviz_escape.h. One loop for both: the XML rules are the HTML ones
 * plus two, so a fix to one reaches the other. */
#include "memviz_escape.h"

#include <stdbool.h>

static void escape(FILE *f, const char *s, bool is_xml)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'':
            fputs(is_xml ? "&apos;" : "'", f);
            break;
        default:
            if (!is_xml || (unsigned char)*s >= 0x20 || *s == '\t')
                fputc(*s, f);
        }
    }
}

void sf_mv_escape_html(FILE *f, const char *s)
{
    escape(f, s, false);
}

void sf_mv_escape_xml(FILE *f, const char *s)
{
    escape(f, s, true);
}
