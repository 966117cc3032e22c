"""Fixed vocabularies of the simulated world: industries, skills, names and companies.

Digital intensity follows the spirit of the industry classification used by Rajkumar et
al. (2022): software and data work are most digital, construction and logistics least.
"""

from __future__ import annotations

from dataclasses import dataclass

from tiesignal.schema import SENIORITY_LEVELS


@dataclass(frozen=True)
class Industry:
    name: str
    digital_intensity: float
    share: float  # share of members
    skills: tuple[str, ...]
    roles: tuple[str, ...]  # job titles an opening in this industry may carry


INDUSTRIES: tuple[Industry, ...] = (
    Industry("Software Development", 1.0, 0.12,
             ("Python", "Kubernetes", "TypeScript", "Go", "AWS", "React", "CI/CD", "Rust"),
             ("Software Engineer", "Platform Engineer", "Engineering Manager")),
    Industry("Data and Analytics", 0.95, 0.06,
             ("SQL", "Spark", "dbt", "Tableau", "Statistics", "Airflow", "Pandas", "Looker"),
             ("Data Engineer", "Analytics Engineer", "Data Scientist")),
    Industry("Financial Technology", 0.85, 0.05,
             ("Payments", "Risk Modeling", "Java", "Compliance", "KYC", "Fraud Detection",
              "Kafka", "Open Banking"),
             ("Payments Engineer", "Risk Analyst", "Product Manager")),
    Industry("E-commerce", 0.8, 0.05,
             ("SEO", "Merchandising", "Shopify", "Conversion Optimization", "Growth Marketing",
              "Supply Planning", "A/B Testing", "CRM"),
             ("Growth Manager", "E-commerce Manager", "Marketplace Analyst")),
    Industry("Telecommunications", 0.75, 0.04,
             ("5G", "Network Planning", "RF Engineering", "SD-WAN", "VoIP", "Fiber Optics",
              "Linux", "Field Operations"),
             ("Network Engineer", "RF Engineer", "Solutions Architect")),
    Industry("Media and Publishing", 0.65, 0.04,
             ("Copywriting", "Video Editing", "Content Strategy", "Social Media", "Adobe Premiere",
              "Audience Growth", "Journalism", "Podcasting"),
             ("Content Strategist", "Producer", "Editor")),
    Industry("Management Consulting", 0.6, 0.06,
             ("Strategy", "Due Diligence", "Stakeholder Management", "Excel Modeling",
              "Change Management", "Operating Models", "PowerPoint", "Market Sizing"),
             ("Consultant", "Engagement Manager", "Strategy Analyst")),
    Industry("Banking and Finance", 0.55, 0.08,
             ("Financial Modeling", "Valuation", "Credit Analysis", "Bloomberg", "IFRS",
              "Treasury", "Portfolio Management", "Audit"),
             ("Financial Analyst", "Credit Officer", "Controller")),
    Industry("Healthcare", 0.35, 0.09,
             ("Patient Care", "EHR", "Clinical Operations", "HIPAA", "Nursing", "Care Coordination",
              "Medical Coding", "Epic"),
             ("Clinical Manager", "Registered Nurse", "Practice Manager")),
    Industry("Pharmaceuticals", 0.4, 0.04,
             ("GMP", "Clinical Trials", "Regulatory Affairs", "Pharmacovigilance", "Biostatistics",
              "Quality Assurance", "Validation", "Medical Affairs"),
             ("Clinical Research Associate", "Regulatory Specialist", "QA Manager")),
    Industry("Education", 0.3, 0.07,
             ("Curriculum Design", "Instructional Design", "Classroom Management", "LMS",
              "Assessment", "E-learning", "Tutoring", "Academic Advising"),
             ("Instructional Designer", "Program Coordinator", "Teacher")),
    Industry("Manufacturing", 0.25, 0.08,
             ("Lean", "Six Sigma", "CAD", "PLC Programming", "Quality Control", "ERP",
              "Process Engineering", "Maintenance"),
             ("Process Engineer", "Plant Manager", "Quality Engineer")),
    Industry("Energy and Utilities", 0.3, 0.04,
             ("Grid Operations", "Renewables", "SCADA", "Project Finance", "HSE", "Power Systems",
              "Asset Management", "Permitting"),
             ("Power Systems Engineer", "Project Developer", "HSE Manager")),
    Industry("Retail", 0.25, 0.08,
             ("Store Operations", "Visual Merchandising", "Inventory Management",
              "Customer Service", "Category Management", "Loss Prevention", "POS Systems",
              "Buying"),
             ("Store Manager", "Category Manager", "Buyer")),
    Industry("Logistics", 0.2, 0.05,
             ("Freight Forwarding", "Warehouse Management", "Fleet Management", "Customs",
              "Route Planning", "WMS", "Procurement", "Last Mile"),
             ("Logistics Coordinator", "Operations Manager", "Supply Chain Analyst")),
    Industry("Construction", 0.1, 0.05,
             ("Estimating", "Site Management", "AutoCAD", "BIM", "Scheduling", "OSHA",
              "Contract Administration", "Surveying"),
             ("Site Manager", "Estimator", "Project Engineer")),
)  # fmt: skip

SENIORITIES = SENIORITY_LEVELS  # the canonical schema's levels, lowest first
SENIORITY_TITLE_PREFIX: tuple[str, ...] = ("Junior ", "", "Senior ", "Head of ")

INTENTS: tuple[str, ...] = ("opening", "pipeline", "connections", "growth")

# Note levels, from least to most personal. `name_merge` is what bulk tools produce: the
# first name is filled in by mail merge, the rest is the same for everyone.
NOTE_LEVELS: tuple[str, ...] = ("none", "generic", "name_merge", "name_company", "specific")

FIRST_NAMES: tuple[str, ...] = (
    "Ava",
    "Ben",
    "Chloe",
    "Dev",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jonas",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Oscar",
    "Priya",
    "Quentin",
    "Rosa",
    "Sami",
    "Tara",
    "Umar",
    "Vera",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoe",
    "Amir",
    "Bianca",
    "Carlos",
    "Dana",
    "Emil",
    "Fatima",
    "Gabriel",
    "Hana",
    "Ivan",
    "Julia",
    "Kenji",
    "Lucia",
    "Marco",
    "Nia",
    "Omar",
    "Paula",
    "Rafael",
    "Sofia",
    "Tomas",
    "Uma",
    "Viktor",
    "Willa",
    "Yara",
    "Zane",
)
LAST_NAMES: tuple[str, ...] = (
    "Abbott",
    "Banerjee",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Ueda",
    "Varga",
    "Walsh",
    "Xu",
    "Yilmaz",
    "Zimmermann",
    "Adeyemi",
    "Brennan",
    "Chen",
    "Duarte",
)
COMPANY_STEMS: tuple[str, ...] = (
    "Acme",
    "Brightline",
    "Cobalt",
    "Driftwood",
    "Evergreen",
    "Fulcrum",
    "Granite",
    "Harbor",
    "Ironclad",
    "Juniper",
    "Keystone",
    "Lumen",
    "Meridian",
    "Northstar",
    "Orchid",
    "Pinnacle",
    "Quarry",
    "Redwood",
    "Summit",
    "Tidewater",
    "Upland",
    "Vantage",
    "Willow",
    "Xenon",
    "Yardley",
    "Zephyr",
)
COMPANY_SUFFIXES: tuple[str, ...] = ("Labs", "Group", "Partners", "Systems", "Health", "Works")
AGENCY_NAMES: tuple[str, ...] = (
    "TalentBridge", "HireQuest", "PeopleFirst Search", "Apex Staffing", "NextRole Partners",
)  # fmt: skip

SENDER_TYPES: tuple[str, ...] = (
    "agency_recruiter",
    "inhouse_recruiter",
    "hiring_manager",
    "peer",
    "fake_profile",
)
