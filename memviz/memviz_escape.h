/* Text inside the memviz pictures: tensor, node and run names come from
 * traces and the command line, so they are escaped before they reach markup.
 * Both writers go through here. */
#ifndef SF_MEMVIZ_ESCAPE_H
#define SF_MEMVIZ_ESCAPE_H

#include <stdio.h>

/* s as HTML text or attribute value: < > & " become entities; every other
 * byte is written as is (the page is UTF-8, and the browser tolerates
 * control bytes). */
void sf_mv_escape_html(FILE *f, const char *s);

/* s as XML (the SVG): also ' becomes &apos;, and control bytes other than
 * tab are dropped, because XML 1.0 forbids them and one would make the
 * whole file unreadable to an XML parser. */
void sf_mv_escape_xml(FILE *f, const char *s);

#endif
