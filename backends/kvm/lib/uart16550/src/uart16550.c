/* KVM backend console: 16550 UART at COM1 (I/O port 0x3f8), polled.
 * uart_init is the init-table entry of the "uart16550" library. */
#include <unilang/runtime.h>

/* UNILANG_PARAM_UART16550_BAUD comes from unilang_params.h (default in uart16550.uni) */
#define UART_CLOCK_DIV_BASE 115200u /* 1.8432 MHz / 16 */

#define COM1 0x3f8
#define THR 0 /* transmit holding (DLAB=0) */
#define DLL 0 /* divisor low (DLAB=1) */
#define IER 1
#define DLM 1 /* divisor high (DLAB=1) */
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define IIR 2 /* read */
#define LSR_THRE 0x20
#define IIR_FIFO 0xc0 /* both bits: a 16550A whose FIFOs are on */
#define FIFO_DEPTH 16u

/* Bytes the transmitter takes after one look at LSR: with its FIFO on, THRE
 * means the 16-byte transmit FIFO is empty; else (an 8250/16450, or a UART
 * that does not report FIFOs, like Firecracker's) one holding register.  Each
 * port access is a VM exit, one LSR read per byte doubled them. */
static unsigned tx_burst; /* 0 until uart_init, read as 1 by uart_putc: an
                            * initialised 1 would give hello a .data section,
                            * 2,704 bytes more image */

/* `divides 115200` in backend.uni makes `check` reject any other baud first;
 * this stays as a second line of defence. */
_Static_assert(UNILANG_PARAM_UART16550_BAUD > 0 &&
                   UNILANG_PARAM_UART16550_BAUD <= 115200 &&
                   115200 % UNILANG_PARAM_UART16550_BAUD == 0,
               "UNILANG_PARAM_UART16550_BAUD must divide 115200");

void uart_init(void);

void uart_init(void)
{
    unsigned div = UART_CLOCK_DIV_BASE / UNILANG_PARAM_UART16550_BAUD;

    unilang_outb(COM1 + IER, 0x00);  /* no interrupts */
    unilang_outb(COM1 + LCR, 0x80);  /* DLAB */
    unilang_outb(COM1 + DLL, (uint8_t)(div & 0xff));
    unilang_outb(COM1 + DLM, (uint8_t)(div >> 8));
    unilang_outb(COM1 + LCR, 0x03);  /* 8N1 */
    unilang_outb(COM1 + FCR, 0xc7);  /* FIFO on, cleared, 14-byte trigger */
    unilang_outb(COM1 + MCR, 0x03);  /* DTR, RTS */
    tx_burst = (unilang_inb(COM1 + IIR) & IIR_FIFO) == IIR_FIFO ? FIFO_DEPTH : 1u;
}

/* `*room`: bytes the transmitter takes before LSR must be read again. */
static void uart_putc(char c, unsigned *room)
{
    if (*room == 0) {
        /* bounded wait: never hang if nothing is at 0x3f8 */
        for (unsigned i = 0; i < 100000u; ++i) {
            if (unilang_inb(COM1 + LSR) & LSR_THRE)
                break;
        }
        *room = tx_burst ? tx_burst : 1u; /* before uart_init: one byte at a time */
    }
    unilang_outb(COM1 + THR, (uint8_t)c);
    --*room;
}

void unilang_console_write(const char *s, unsigned long n)
{
    unsigned room = 0;
    for (unsigned long i = 0; i < n; ++i) {
        if (s[i] == '\n')
            uart_putc('\r', &room);
        uart_putc(s[i], &room);
    }
}
