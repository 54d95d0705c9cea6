/* Library conio: text lines on top of any console (stdlib/lib/conio). */
#ifndef UNILANG_CONIO_H
#define UNILANG_CONIO_H

/* Write s followed by "\n" to the console. */
void unilang_puts(const char *s);

#endif /* UNILANG_CONIO_H */
