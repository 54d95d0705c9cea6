#define EXIT_CODE 0
