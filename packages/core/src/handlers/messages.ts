/**
 * The text of the built-in pages, one catalogue per language. English is complete and the
 * fallback; another language may leave out what it does not translate. `{name}` marks where a
 * value goes (always HTML-escaped).
 */
export interface PageMessages {
  signInTitle: string;
  signInHeading: string;
  signInIntro: string;
  username: string;
  password: string;
  signIn: string;
  badPassword: string;
  tooManyAttempts: string;
  consentTitle: string;
  consentHeading: string;
  consentIntro: string;
  application: string;
  publishedBy: string;
  returnsTo: string;
  redirectUri: string;
  resource: string;
  asksFor: string;
  noScopes: string;
  signedInAs: string;
  notYou: string;
  allow: string;
  deny: string;
  localhostWarning: string;
  upstreamNext: string;
  accountTitle: string;
  accountHeading: string;
  accountIntro: string;
  accountEmpty: string;
  permissions: string;
  lastUsed: string;
  revoke: string;
  signOut: string;
  signedOutTitle: string;
  signedOutBody: string;
  formExpired: string;
}

const en: PageMessages = {
  signInTitle: "Sign in - {service}",
  signInHeading: "Sign in to {service}",
  signInIntro: "{client} asks you to sign in.",
  username: "Username",
  password: "Password",
  signIn: "Sign in",
  badPassword: "The username or password is incorrect.",
  tooManyAttempts: "Too many failed sign-in attempts. Try again in {seconds} seconds.",
  consentTitle: "Allow access - {service}",
  consentHeading: "Allow {client}?",
  consentIntro: "{client} wants to access {resource} on your behalf.",
  application: "Application",
  publishedBy: "Published by",
  returnsTo: "Returns to",
  redirectUri: "Redirect URI",
  resource: "Resource",
  asksFor: "It asks to:",
  noScopes: "No specific permissions; it will know who you are.",
  signedInAs: "Signed in as {user}.",
  notYou: "Not you? Sign out",
  allow: "Allow",
  deny: "Deny",
  localhostWarning: "This application runs on your own computer (it returns to {host}). Continue only if you started it yourself just now.",
  upstreamNext: "After you allow it, you sign in at {host}, which is asked for {scopes}.",
  accountTitle: "Connected applications - {service}",
  accountHeading: "Connected applications",
  accountIntro: "Applications you allowed to act on your behalf, as {user}.",
  accountEmpty: "You have not allowed any application yet.",
  permissions: "Permissions",
  lastUsed: "Last used",
  revoke: "Revoke",
  signOut: "Sign out",
  signedOutTitle: "Signed out - {service}",
  signedOutBody: "You are signed out. Applications you allowed keep their access until you revoke it.",
  formExpired: "This page has expired. Open it again.",
};

const fr: Partial<PageMessages> = {
  signInTitle: "Connexion - {service}",
  signInHeading: "Connexion à {service}",
  signInIntro: "{client} vous demande de vous connecter.",
  username: "Nom d’utilisateur",
  password: "Mot de passe",
  signIn: "Se connecter",
  badPassword: "Le nom d’utilisateur ou le mot de passe est incorrect.",
  tooManyAttempts: "Trop de tentatives échouées. Réessayez dans {seconds} secondes.",
  consentTitle: "Autoriser l’accès - {service}",
  consentHeading: "Autoriser {client} ?",
  consentIntro: "{client} veut accéder à {resource} en votre nom.",
  application: "Application",
  publishedBy: "Publiée par",
  returnsTo: "Retour vers",
  redirectUri: "URI de redirection",
  resource: "Ressource",
  asksFor: "Elle demande à :",
  noScopes: "Aucune permission particulière ; elle saura qui vous êtes.",
  signedInAs: "Connecté en tant que {user}.",
  notYou: "Ce n’est pas vous ? Se déconnecter",
  allow: "Autoriser",
  deny: "Refuser",
  localhostWarning:
    "Cette application tourne sur votre propre ordinateur (elle revient vers {host}). Continuez seulement si vous venez de la lancer vous-même.",
  upstreamNext: "Après votre accord, vous vous connectez chez {host}, à qui sont demandés {scopes}.",
  accountTitle: "Applications connectées - {service}",
  accountHeading: "Applications connectées",
  accountIntro: "Les applications que vous avez autorisées à agir en votre nom, en tant que {user}.",
  accountEmpty: "Vous n’avez encore autorisé aucune application.",
  permissions: "Permissions",
  lastUsed: "Dernière utilisation",
  revoke: "Révoquer",
  signOut: "Se déconnecter",
  signedOutTitle: "Déconnecté - {service}",
  signedOutBody: "Vous êtes déconnecté. Les applications que vous avez autorisées gardent leur accès jusqu’à ce que vous le révoquiez.",
  formExpired: "Cette page a expiré. Ouvrez-la à nouveau.",
};

/** The catalogues built in: English, and French. */
export const BUILT_IN_MESSAGES: Record<string, Partial<PageMessages>> = { en, fr };

/** The messages of one language, English filling what it leaves out, with its `lang` tag. */
export interface Localized {
  lang: string;
  t: PageMessages;
}

/**
 * The language of the page: the first of the request's `Accept-Language` ranges, by preference
 * (`q`), that a catalogue serves (`fr-CA` is served by `fr`); English otherwise.
 */
export function localize(request: Request | undefined, catalogues: Record<string, Partial<PageMessages>>): Localized {
  const header = request?.headers.get("Accept-Language") ?? "";
  const ranges = header
    .split(",")
    .slice(0, 20)
    .map((part, index) => {
      const [tag, ...params] = part.trim().split(";");
      const q = params.map((p) => /^\s*q=([0-9.]+)\s*$/.exec(p)?.[1]).find(Boolean);
      return { tag: (tag ?? "").trim().toLowerCase(), q: q === undefined ? 1 : Number(q), index };
    })
    .filter((r) => r.tag !== "" && r.q > 0)
    .sort((a, b) => b.q - a.q || a.index - b.index);
  for (const { tag } of ranges) {
    for (const candidate of [tag, tag.split("-")[0]!]) {
      const found = Object.keys(catalogues).find((lang) => lang.toLowerCase() === candidate);
      if (found) return { lang: found, t: { ...en, ...catalogues.en, ...catalogues[found] } as PageMessages };
    }
  }
  return { lang: "en", t: { ...en, ...catalogues.en } as PageMessages };
}

/** Fills `{name}` placeholders with already-escaped HTML. */
export function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (whole, name: string) => (Object.hasOwn(values, name) ? values[name]! : whole));
}
