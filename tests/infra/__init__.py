"""Tests of infra/ (the program under mocks, the golden plans)."""
