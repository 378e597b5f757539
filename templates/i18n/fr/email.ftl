# Passage emails, French. Every key here has a twin in ../en/email.ftl (a test checks).
# The bodies' layout is in templates/email/; these are their words.

email-case = Dossier :
email-category = Catégorie :
email-amount = Montant :
email-reason = Raison :

email-urgent-subject = Urgent : { $category } { $amount } pour le dossier { $case }
email-escalated-subject = [Relance] Urgent : { $category } { $amount } pour le dossier { $case }
email-urgent-intro = Une demande urgente attend une décision.
email-urgent-why = Pourquoi un trésorier :
email-urgent-decide = Décider :
email-urgent-decide-link = Ouvrir la demande pour décider

email-org = Organisme :
email-requester = Demandée par :
email-route = Trajet :
email-travel-date = Date du trajet :
email-trip-reason = Motif du trajet :
email-stay = Hôtel :
email-stay-value = { $nights } nuits × { $rate }, { $party } personnes
email-needed-by = Pour le :
email-excess = Au-delà de la règle :
email-case-days = Autres demandes du dossier, 90 derniers jours :
email-case-days-value = { $count } (approuvé ou dépensé : { $total })
email-available-now = Disponible maintenant :
email-available-after = Disponible après approbation :
email-approvals = Approbations :
email-approvals-value = { $done } sur { $needed }
email-approvals-by = { $done } sur { $needed } ({ $who })

email-asked-subject = Une question de la trésorerie : { $category } { $amount } pour le dossier { $case }
email-asked-intro = Un·e trésorier·ère a besoin de précisions avant de décider. La demande attend votre réponse à la question, sur sa page.
email-asked-link = Lire la question et y répondre :
email-answered-subject = Réponse reçue : { $category } { $amount } pour le dossier { $case }
email-answered-intro = L'intervenant·e a répondu à votre question ; la demande est de retour dans la file, à sa place d'origine.
email-answered-link = Lire la réponse et décider :

email-approved-subject = Approuvé : { $category } { $amount } pour le dossier { $case }
email-approved-intro = La demande est approuvée et l'argent est réservé.
email-approved-receipt = Après l'achat, saisissez le reçu :
email-approved-receipt-link = Saisir le reçu après l'achat
email-declined-subject = Refusé : { $category } { $amount } pour le dossier { $case }
email-declined-intro = La demande est refusée.
email-decline-code = Pourquoi :
email-declined-read = La lire sur sa page :
email-declined-read-link = Ouvrir la demande

email-low-subject = Fonds bas : { $available } disponibles
email-low-intro = Le fonds est passé sous son plancher de réserve.
email-low-available = Disponible :
email-low-floor = Plancher :

email-late-waiting-subject = Reçu en retard : { $category } { $amount } pour le dossier { $case }
email-late-waiting-intro = Un reçu est arrivé après l'expiration de sa réservation : l'organisme a déjà payé. Approuvez-le pour que le fonds le paie, ou refusez-le.
email-late-escalated-subject = [Relance] Reçu en retard : { $category } { $amount } pour le dossier { $case }
email-late-escalated-intro = Personne n'a encore statué sur ce reçu en retard : l'organisme a déjà payé et attend. Approuvez-le pour que le fonds le paie, ou refusez-le.
email-late-approved-subject = Reçu en retard approuvé : { $category } { $amount } pour le dossier { $case }
email-late-approved-intro = Un·e trésorier·ère a approuvé le reçu en retard : le fonds le paie.
email-late-declined-subject = Reçu en retard refusé : { $category } { $amount } pour le dossier { $case }
email-late-declined-intro = Un·e trésorier·ère a refusé le reçu en retard : le fonds ne le paie pas et la demande reste expirée.
email-late-open-link = Ouvrir la demande
email-hold-reminder-subject = Reçu manquant : { $category } { $amount } pour le dossier { $case }
email-hold-reminder-intro = L'argent réservé pour cette demande retourne au fonds dans { $time } si son reçu n'est pas saisi.

email-seal-subject = Rapport aux donateurs à sceller : du { $start } au { $end }
email-seal-intro = Le rapport du { $start } au { $end } attend d'être scellé par un·e trésorier·ère, puis contresigné par un·e autre.
email-seal-link = Le relire et le sceller :
email-cosign-subject = Rapport aux donateurs à contresigner : du { $start } au { $end }
email-cosign-intro = Le rapport du { $start } au { $end } est scellé et attend la contresignature d'un·e second·e trésorier·ère.
email-cosign-link = Le relire et le contresigner :

email-donor-subject = Ce que le fonds Passage a permis, du { $start } au { $end }
email-donor-hello = Bonjour { $name },
email-donor-intro = Voici ce que le fonds d'urgence Passage a permis du { $start } au { $end }.
email-donor-no-gift = Vous n'avez pas fait de don pendant cette période : merci de votre soutien.
email-donor-your-gifts = Vos dons pendant cette période
email-donor-your-gifts-text = Vos dons pendant cette période :
email-donor-total = Total :
email-donor-fund = Le fonds
email-donor-fund-text = Le fonds :
email-donor-row = { $label } : { $value }
email-donor-by-need = Dépenses par besoin
email-donor-by-need-text = Dépenses par besoin :
email-donor-web = Version web :
email-donor-web-link = Lire ce rapport sur le web
email-donor-link-days = ce lien fonctionne { $days } jours
email-donor-hash = Empreinte du rapport (SHA-256) :
email-donor-by-province = Dépenses par province
email-donor-by-province-text = Dépenses par province :
email-donor-how-to-read = Comment lire ce rapport
email-donor-how-to-read-text = Comment lire ce rapport :
email-donor-check = Pour le vérifier : la page web du rapport offre son fichier de synthèse ; sha256sum de ce fichier affiche cette empreinte.
email-donor-stop = Pour ne plus recevoir ces rapports :
email-donor-stop-link = Ne plus recevoir ces rapports

# Un lien pour choisir un nouveau mot de passe (issue 19)
email-reset-subject = Choisir un nouveau mot de passe Passage
email-reset-intro = Quelqu'un, sans doute vous, a demandé à choisir un nouveau mot de passe pour votre compte Passage. Le lien ci-dessous fonctionne une fois, pendant une heure.
email-reset-link = Choisir un nouveau mot de passe
email-reset-ignore = Si vous n'avez rien demandé, ignorez ce courriel : votre mot de passe reste le même.

# Une invitation à Passage (issue 19)
email-invitation-subject = Vous êtes invité·e à Passage
email-invitation-intro = Une personne qui administre le fonds d'urgence de votre coalition vous a invité·e à Passage. Choisissez votre mot de passe avec le lien ci-dessous : il fonctionne une fois, pendant 48 heures. Connectez-vous ensuite avec votre courriel et ce mot de passe.
email-invitation-link = Choisir mon mot de passe
email-invitation-ignore = Si vous n'attendiez pas cette invitation, ignorez ce courriel : sans le lien, rien ne se passe.
