# Generated from the theory's sympy derivation by
# robocarbon.theory.numeric.generate_source (the code sympy.lambdify prints for numpy).
# Do not edit: regenerate with
#     python -m robocarbon.theory.numeric --regenerate
# tests/test_theory_numeric.py requires this file to equal a fresh regeneration.
"""numpy code of the theory's expressions: ``FUNCTIONS[name]`` computes
``robocarbon.theory.numeric.expression(name)``."""

from numpy import log


def log_output(K, L, M, E, alpha, beta, I, N, lnA):
    return alpha*log(K) + beta*(-I + N)*log(L) - beta*(-I + N)*log(-I + N) + beta*(I - N + 1)*log(M) - beta*(I - N + 1)*log(I - N + 1) + lnA + (-alpha - beta + 1)*log(E)


def log_carbon_intensity(K, L, M, E, alpha, beta, I, N, lnA):
    return -alpha*log(K) - beta*(-I + N)*log(L) + beta*(-I + N)*log(-I + N) - beta*(I - N + 1)*log(M) + beta*(I - N + 1)*log(I - N + 1) - lnA + (alpha + beta)*log(E)


def log_tfp(alpha, beta, I, N, lnA):
    return -beta*(-I + N)*log(-I + N) - beta*(I - N + 1)*log(I - N + 1) + lnA


def gamma_0(alpha, beta, I, N):
    return beta*(-I + N)*log(-I + N) + beta*(I - N + 1)*log(I - N + 1)


def fixed_energy(alpha, beta, I, N):
    return -beta*(I - N + 1)


def priced_energy(alpha, beta, I, N):
    return 0


def elastic_energy(alpha, beta, I, N, eta):
    return -beta*(I - N + 1)/(alpha*eta + beta*eta + 1)


def log_energy_priced(K, L, M, P_e, alpha, beta, I, N, lnA):
    return alpha*log(K)/(alpha + beta) + beta*(-I + N)*log(L)/(alpha + beta) - beta*(-I + N)*log(-I + N)/(alpha + beta) + beta*(I - N + 1)*log(M)/(alpha + beta) - beta*(I - N + 1)*log(I - N + 1)/(alpha + beta) + lnA/(alpha + beta) - log(P_e)/(alpha + beta) + log(-alpha - beta + 1)/(alpha + beta)


def log_intensity_priced(P_e, alpha, beta, I, N):
    return -log(P_e) + log(-alpha - beta + 1)


def dln_indco_dI(L, M, alpha, beta, I, N, log_gamma_ratio):
    return beta*log(L) - beta*log(M) - beta*log(-I + N) + beta*log(I - N + 1) - log_gamma_ratio


def implied_robot_share(b1, robot):
    return -b1*robot


def share_capital(alpha, beta, I, N):
    return alpha


def share_labour(alpha, beta, I, N):
    return beta*(-I + N)


def share_robots(alpha, beta, I, N):
    return beta*(I - N + 1)


def share_energy(alpha, beta, I, N):
    return -alpha - beta + 1


def price_R(Y, K, L, M, E, alpha, beta, I, N):
    return Y*alpha/K


def price_W(Y, K, L, M, E, alpha, beta, I, N):
    return Y*beta*(-I + N)/L


def price_P_m(Y, K, L, M, E, alpha, beta, I, N):
    return Y*beta*(I - N + 1)/M


def price_P_e(Y, K, L, M, E, alpha, beta, I, N):
    return Y*(-alpha - beta + 1)/E


FUNCTIONS = {
    'log_output': log_output,
    'log_carbon_intensity': log_carbon_intensity,
    'log_tfp': log_tfp,
    'gamma_0': gamma_0,
    'fixed_energy': fixed_energy,
    'priced_energy': priced_energy,
    'elastic_energy': elastic_energy,
    'log_energy_priced': log_energy_priced,
    'log_intensity_priced': log_intensity_priced,
    'dln_indco_dI': dln_indco_dI,
    'implied_robot_share': implied_robot_share,
    'share_capital': share_capital,
    'share_labour': share_labour,
    'share_robots': share_robots,
    'share_energy': share_energy,
    'price_R': price_R,
    'price_W': price_W,
    'price_P_m': price_P_m,
    'price_P_e': price_P_e,
}
