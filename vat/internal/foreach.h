// A preprocessor for-each used by VATIC_METHODS and VATIC_FIELDS: applies
// M(ctx, x) to each of up to 40 arguments.
#pragma once

#define VATIC_PP_CAT_(a, b) a##b
#define VATIC_PP_CAT(a, b) VATIC_PP_CAT_(a, b)
#define VATIC_PP_NARGS_(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, _12, _13, _14, _15, _16, _17, _18, _19, _20,     \
                        _21, _22, _23, _24, _25, _26, _27, _28, _29, _30, _31, _32, _33, _34, _35, _36, _37, _38, _39, \
                        _40, n, ...)                                                                                   \
  n
#define VATIC_PP_NARGS(...)                                                                                            \
  VATIC_PP_NARGS_(__VA_ARGS__, 40, 39, 38, 37, 36, 35, 34, 33, 32, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19, \
                  18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1)
#define VATIC_PP_EACH_1(M, c, x) M(c, x)
#define VATIC_PP_EACH_2(M, c, x, ...) M(c, x) VATIC_PP_EACH_1(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_3(M, c, x, ...) M(c, x) VATIC_PP_EACH_2(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_4(M, c, x, ...) M(c, x) VATIC_PP_EACH_3(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_5(M, c, x, ...) M(c, x) VATIC_PP_EACH_4(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_6(M, c, x, ...) M(c, x) VATIC_PP_EACH_5(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_7(M, c, x, ...) M(c, x) VATIC_PP_EACH_6(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_8(M, c, x, ...) M(c, x) VATIC_PP_EACH_7(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_9(M, c, x, ...) M(c, x) VATIC_PP_EACH_8(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_10(M, c, x, ...) M(c, x) VATIC_PP_EACH_9(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_11(M, c, x, ...) M(c, x) VATIC_PP_EACH_10(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_12(M, c, x, ...) M(c, x) VATIC_PP_EACH_11(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_13(M, c, x, ...) M(c, x) VATIC_PP_EACH_12(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_14(M, c, x, ...) M(c, x) VATIC_PP_EACH_13(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_15(M, c, x, ...) M(c, x) VATIC_PP_EACH_14(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_16(M, c, x, ...) M(c, x) VATIC_PP_EACH_15(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_17(M, c, x, ...) M(c, x) VATIC_PP_EACH_16(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_18(M, c, x, ...) M(c, x) VATIC_PP_EACH_17(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_19(M, c, x, ...) M(c, x) VATIC_PP_EACH_18(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_20(M, c, x, ...) M(c, x) VATIC_PP_EACH_19(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_21(M, c, x, ...) M(c, x) VATIC_PP_EACH_20(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_22(M, c, x, ...) M(c, x) VATIC_PP_EACH_21(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_23(M, c, x, ...) M(c, x) VATIC_PP_EACH_22(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_24(M, c, x, ...) M(c, x) VATIC_PP_EACH_23(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_25(M, c, x, ...) M(c, x) VATIC_PP_EACH_24(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_26(M, c, x, ...) M(c, x) VATIC_PP_EACH_25(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_27(M, c, x, ...) M(c, x) VATIC_PP_EACH_26(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_28(M, c, x, ...) M(c, x) VATIC_PP_EACH_27(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_29(M, c, x, ...) M(c, x) VATIC_PP_EACH_28(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_30(M, c, x, ...) M(c, x) VATIC_PP_EACH_29(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_31(M, c, x, ...) M(c, x) VATIC_PP_EACH_30(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_32(M, c, x, ...) M(c, x) VATIC_PP_EACH_31(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_33(M, c, x, ...) M(c, x) VATIC_PP_EACH_32(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_34(M, c, x, ...) M(c, x) VATIC_PP_EACH_33(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_35(M, c, x, ...) M(c, x) VATIC_PP_EACH_34(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_36(M, c, x, ...) M(c, x) VATIC_PP_EACH_35(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_37(M, c, x, ...) M(c, x) VATIC_PP_EACH_36(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_38(M, c, x, ...) M(c, x) VATIC_PP_EACH_37(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_39(M, c, x, ...) M(c, x) VATIC_PP_EACH_38(M, c, __VA_ARGS__)
#define VATIC_PP_EACH_40(M, c, x, ...) M(c, x) VATIC_PP_EACH_39(M, c, __VA_ARGS__)
#define VATIC_PP_FOR_EACH(M, c, ...) VATIC_PP_CAT(VATIC_PP_EACH_, VATIC_PP_NARGS(__VA_ARGS__))(M, c, __VA_ARGS__)
