/* greeter's public header: seen by the app and by libraries that require
 * greet.hello, and by no other source. */
#ifndef GREETER_H
#define GREETER_H

void greet(const char *who);

#endif
