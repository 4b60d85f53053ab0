import { describe, expect, it } from "vitest";
import { BUILT_IN_MESSAGES, localize } from "./messages.js";
import { imageSource } from "./pages.js";

const request = (acceptLanguage: string) => new Request("https://as.test/authorize", { headers: { "Accept-Language": acceptLanguage } });

describe("Page helpers", () => {
  it("shows only https images that a CSP source expression can name exactly", () => {
    expect(imageSource("https://cdn.test/logo.png")).toBe("https://cdn.test/logo.png");
    expect(imageSource("http://cdn.test/logo.png")).toBeUndefined();
    expect(imageSource("javascript:alert(1)")).toBeUndefined();
    expect(imageSource("data:image/png;base64,AAAA")).toBeUndefined();
    expect(imageSource("https://user:pw@cdn.test/logo.png")).toBeUndefined();
    // Characters that would end the CSP source list or add a directive.
    expect(imageSource("https://cdn.test/a;script-src%20*")).toBeUndefined();
    expect(imageSource("https://cdn.test/a,b")).toBeUndefined();
    expect(imageSource("https://cdn.test/it's.png")).toBeUndefined();
    expect(imageSource("not a url")).toBeUndefined();
  });

  it("picks the catalogue by Accept-Language preference, region falling back to the language, English otherwise", () => {
    expect(localize(request("fr-CA"), BUILT_IN_MESSAGES).lang).toBe("fr");
    expect(localize(request("de;q=1, fr;q=0.5"), BUILT_IN_MESSAGES).lang).toBe("fr");
    expect(localize(request("fr;q=0.2, en;q=0.9"), BUILT_IN_MESSAGES).lang).toBe("en");
    expect(localize(request("fr;q=0"), BUILT_IN_MESSAGES).lang).toBe("en");
    expect(localize(request("*"), BUILT_IN_MESSAGES).lang).toBe("en");
    expect(localize(undefined, BUILT_IN_MESSAGES).t.signIn).toBe("Sign in");
    // A partial catalogue is completed by English.
    const partial = localize(request("de"), { ...BUILT_IN_MESSAGES, de: { signIn: "Anmelden" } });
    expect(partial).toMatchObject({ lang: "de", t: { signIn: "Anmelden", password: "Password" } });
  });
});
