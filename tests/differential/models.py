"""Python models of computations the guests make, shared by the x86 and the
ARM guests' tests: what a guest must print, computed without kasou."""


def primes_below(n: int) -> int:
    """How many primes are below ``n`` (a sieve of Eratosthenes)."""
    is_p = [True] * n
    is_p[0] = is_p[1] = False
    for i in range(2, int(n ** 0.5) + 1):
        if is_p[i]:
            for j in range(i * i, n, i):
                is_p[j] = False
    return sum(is_p)


def fib(k: int) -> int:
    """The naive recursive Fibonacci number the fib guests compute."""
    return k if k < 2 else fib(k - 1) + fib(k - 2)
