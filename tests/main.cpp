// The one Catch2 main of memkv_tests. Every tests/*_test.cpp links into the same binary.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
