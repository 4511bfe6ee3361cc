/* fsm -- a tokenizer as a state machine with a switch: a 4096-byte text of
 * LCG characters (rnd() % 64 picks from ALPHABET below) is read a byte at a
 * time, its class found in a table, and words (runs of letters), numbers
 * (runs of digits, their values summed mod 2**32), punctuation characters
 * and newlines counted; SCALE texts, the LCG running on.  The checksum:
 * words * 7 + numbers * 131 + punctuation * 1009 + lines * 9973 + the sum
 * of the numbers. */
#include "cguest.h"

#ifndef SCALE
#define SCALE 95
#endif
#define N 4096

static const char ALPHABET[64] =
    "abcdefghijklmnopqrstuvwxyz    0123456789    ,.;:!?()\n\n\nABCDEFGHI";

enum { SPACE, LETTER, DIGIT, PUNCT, NEWLINE };
enum { IDLE, WORD, NUMBER, AFTER_PUNCT, AFTER_NEWLINE };

static u8 cls[256];
static char text[N];

u32 guest_main(void)
{
    u32 words = 0, numbers = 0, punct = 0, lines = 0, sum = 0;
    for (int c = 'a'; c <= 'z'; c++)
        cls[c] = LETTER;
    for (int c = 'A'; c <= 'Z'; c++)
        cls[c] = LETTER;
    for (int c = '0'; c <= '9'; c++)
        cls[c] = DIGIT;
    for (const char *p = ",.;:!?()"; *p; p++)
        cls[(u8)*p] = PUNCT;
    cls['\n'] = NEWLINE;
    for (int pass = 0; pass < SCALE; pass++) {
        for (int i = 0; i < N; i++)
            text[i] = ALPHABET[rnd() & 63];
        int state = IDLE;
        u32 value = 0;
        for (int i = 0; i < N; i++) {
            u8 ch = (u8)text[i];
            int k = cls[ch];
            switch (state) {
            case WORD:
                if (k == LETTER)
                    continue;
                break;
            case NUMBER:
                if (k == DIGIT) {
                    value = value * 10 + (ch - '0');
                    continue;
                }
                sum += value;
                break;
            case AFTER_PUNCT:
            case AFTER_NEWLINE:
            case IDLE:
                break;
            }
            switch (k) {
            case LETTER:
                words++;
                state = WORD;
                break;
            case DIGIT:
                numbers++;
                value = ch - '0';
                state = NUMBER;
                break;
            case PUNCT:
                punct++;
                state = AFTER_PUNCT;
                break;
            case NEWLINE:
                lines++;
                state = AFTER_NEWLINE;
                break;
            default:
                state = IDLE;
                break;
            }
        }
        if (state == NUMBER)
            sum += value;
    }
    return words * 7 + numbers * 131 + punct * 1009 + lines * 9973 + sum;
}
